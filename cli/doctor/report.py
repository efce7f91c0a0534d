"""The doctor's checklist: one line per check, ✓ / ✗ (with its fix) / - (skipped, with why)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from cli import exits


class State(StrEnum):
    OK = "ok"
    FAIL = "fail"
    SKIP = "skip"


MARKS = {State.OK: "✓", State.FAIL: "✗", State.SKIP: "-"}


@dataclass(frozen=True)
class Check:
    """The outcome of one check: what was found and, for a ✗, how to fix it."""

    name: str
    state: State
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{MARKS[self.state]} {self.name}: {self.detail}"
        if self.state is State.SKIP:
            text = f"{MARKS[self.state]} {self.name}: skipped: {self.detail}"
        return text


def ok(name: str, detail: str) -> Check:
    return Check(name, State.OK, detail)


def fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, State.FAIL, detail, fix)


def skip(name: str, reason: str) -> Check:
    return Check(name, State.SKIP, reason)


def local_skip(name: str, reason: str) -> Check:
    """A check the emulators cannot answer: said so, neither ✓ nor ✗."""
    return skip(name, f"on the local stack: {reason}")


@dataclass
class Report:
    """Every check of one run, and the canary's measurements when it ran."""

    mode: str
    project: str
    source: str
    checks: list[Check] = field(default_factory=list)
    canary: dict[str, Any] | None = None

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if check.state is State.FAIL]

    @property
    def exit_code(self) -> int:
        return exits.FAILED if self.failures else exits.OK

    def lines(self) -> list[str]:
        """The checklist as printed: a header, one line per check (a fix line under each ✗)."""
        out = [f"session-sync doctor: {self.mode} pipeline, project {self.project} ({self.source})"]
        for check in self.checks:
            out.append(check.line())
            if check.state is State.FAIL and check.fix:
                out.append(f"    fix: {check.fix}")
        counts = {state: sum(c.state is state for c in self.checks) for state in State}
        out.append(
            f"{counts[State.OK]} passed, {counts[State.FAIL]} failed, {counts[State.SKIP]} skipped"
        )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": not self.failures,
            "exit_code": self.exit_code,
            "mode": self.mode,
            "project": self.project,
            "source": self.source,
            "checks": [
                {**asdict(check), "state": check.state.value, "mark": MARKS[check.state]}
                for check in self.checks
            ],
            "canary": self.canary,
        }
