"""What every check gets: the expectations, the Google clients, and a guard around each check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cli import exits
from cli.doctor.expected import Expected
from cli.doctor.report import Check, fail
from cli.doctor.rest import Rest


class HttpProbe(Protocol):
    """Plain, unauthenticated requests: the status a URL answers, or None when nothing does."""

    def status(self, method: str, url: str) -> int | None: ...


@dataclass
class Clients:
    """The Google clients the checks use: the real ones from settings, or fakes in tests.

    `rest` (authorized JSON calls to Google's REST APIs) is None on the local stack,
    which has none of those APIs.
    """

    publisher: Any
    subscriber: Any
    tasks: Any
    bigquery: Any
    firestore: Any
    http: HttpProbe
    rest: Rest | None = None


@dataclass
class Context:
    """One doctor run: what to expect, how to look, and what was read so far."""

    expected: Expected
    clients: Clients
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def local(self) -> bool:
        return self.expected.settings.is_local

    def recreate_fix(self, what: str, *, missing: bool = False) -> str:
        """How to restore `what` as production defines it (`missing`: it does not exist)."""
        if self.local and missing:
            return (
                f"run `session-sync local up`: it provisions {what} from the production definition"
            )
        if self.local:
            return (
                "run `session-sync local down` then `session-sync local up`: the emulators start"
                f" empty and {what} is provisioned again from the production definition"
            )
        return f"run `terraform apply` in terraform/ to restore {what} as terraform defines it"

    def run(self, name: str, check: Callable[[], Check]) -> Check:
        """Run one check; an error reading what it checks becomes its ✗, with the fix."""
        try:
            return check()
        except Exception as error:
            return failed_read(name, error, local=self.local)

    def once(self, key: str, read: Callable[[], Any]) -> Any:
        """`read()` the first time, its result (or its error, raised again) afterwards."""
        if key not in self.cache:
            try:
                self.cache[key] = (True, read())
            except Exception as error:
                self.cache[key] = (False, error)
        ok, value = self.cache[key]
        if not ok:
            raise value
        return value


def failed_read(
    name: str, error: Exception, *, local: bool, doing: str = "cannot read it"
) -> Check:
    """The ✗ of a check whose resource could not be read (or written: `doing`)."""
    problem = exits.explain(error, local=local)
    if problem is not None:
        return fail(name, f"{doing}: {problem.cause}", problem.fix)
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return fail(
        name,
        f"{doing}: {type(error).__name__}: {text[: exits.DETAIL_CHARS]}",
        "see the error above; run doctor again once it is fixed",
    )
