"""Which sessions a replay targets: explicit ids, an id file, failure records, sync status."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from cli.bootstrap import SCAN_PAGE_SIZE
from cli.exits import UsageError
from shared.contract import validate_ids
from shared.errors import PermanentError
from shared.model import OPEN_FAILURE_STATUSES, FailureStatus, SessionKey
from shared.ports import FailureStore, SessionStore

# `--failures` with no value: the open records, the ones a successful sync resolves.
DEFAULT_FAILURE_STATUSES = tuple(status.value for status in OPEN_FAILURE_STATUSES)
FAILURE_CHOICES = ("pending", "abandoned", "invalid")
# `--status` values; `unsynced` means the session has no `bigquerySyncStatus` yet.
STATUS_CHOICES = ("failed", "abandoned", "unsynced")


def parse_session(text: str) -> SessionKey:
    """Parse `--session USER_ID/SESSION_ID`; raises `argparse.ArgumentTypeError` (exit 2)."""
    user_id, slash, session_id = text.partition("/")
    if not slash or not user_id or not session_id:
        raise argparse.ArgumentTypeError(f"{text!r} is not USER_ID/SESSION_ID")
    return _checked(user_id, session_id, where=repr(text))


def file_sessions(path: Path) -> Iterator[SessionKey]:
    """Stream the sessions of a JSON-lines file, one `{"user_id", "session_id"}` object a line.

    Blank lines are skipped and other fields ignored, so the output of
    `replay --dry-run`, `failures list --json` and `reconcile --json` (missing
    and stale lines) can be fed back. Raises `UsageError` naming the first bad line.
    """
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    yield _line_session(line, where=f"{path}:{number}")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None


def count_file_sessions(path: Path) -> int:
    """Read the whole file once to validate it before anything is published; return its size."""
    return sum(1 for _ in file_sessions(path))


def failure_sessions(
    failures: FailureStore, statuses: Iterable[str], *, skipped: list[str] | None = None
) -> Iterator[SessionKey]:
    """Stream the sessions of failure records with these statuses, newest record first.

    A record without a session (an undecodable message) cannot be replayed:
    its id is appended to `skipped` instead.
    """
    for status in dict.fromkeys(statuses):
        for record in failures.list(status=FailureStatus(status)):
            if record.user_id and record.session_id:
                yield record.key
            elif skipped is not None:
                skipped.append(record.record_id)


def status_sessions(
    sessions: SessionStore,
    statuses: Iterable[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[SessionKey]:
    """Stream completed sessions (startTime in [since, until)) whose sync status is one of these.

    Firestore cannot query a missing field, so this pages through every
    completed session of the window and filters here.
    """
    wanted = {None if status == "unsynced" else status for status in statuses}
    for snapshot, _ in sessions.completed_sessions(
        since=since, until=until, page_size=SCAN_PAGE_SIZE
    ):
        if snapshot.sync_status in wanted:
            yield snapshot.key


def _line_session(line: str, *, where: str) -> SessionKey:
    try:
        body = json.loads(line)
    except ValueError as error:
        raise UsageError(f"{where}: not JSON ({error})") from None
    if not isinstance(body, dict):
        raise UsageError(f"{where}: expected an object with user_id and session_id")
    user_id, session_id = body.get("user_id"), body.get("session_id")
    if not isinstance(user_id, str) or not isinstance(session_id, str):
        raise UsageError(f"{where}: user_id and session_id must both be strings")
    try:
        return _checked(user_id, session_id, where=where)
    except argparse.ArgumentTypeError as error:
        raise UsageError(str(error)) from None


def _checked(user_id: str, session_id: str, *, where: str) -> SessionKey:
    try:
        validate_ids(user_id, session_id, "-")
    except PermanentError as error:
        raise argparse.ArgumentTypeError(f"{where}: {error}") from None
    if not user_id.strip() or not session_id.strip():
        raise argparse.ArgumentTypeError(f"{where}: ids must not be blank")
    return SessionKey(user_id, session_id)
