"""Replay selectors: `--session` and id files parsed strictly; failure and status selections."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cli import selectors
from cli.bootstrap import SCAN_PAGE_SIZE
from cli.exits import UsageError
from shared.model import FailureRecord, FailureStatus, SessionKey, SessionSnapshot
from tests.unit.fakes import FakeFailures

UPDATED = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


class StatusFailures(FakeFailures):
    """`FakeFailures` whose `list` honours the status filter, as the real store does."""

    def list(
        self, *, status: FailureStatus | None = None, since: datetime | None = None
    ) -> Iterator[FailureRecord]:
        return iter(r for r in self.records.values() if status is None or r.status is status)


class CompletedSessions:
    """A session store fake with only `completed_sessions` (the selectors need nothing else)."""

    def __init__(self, statuses: dict[str, str | None]) -> None:
        self.snapshots = [
            SessionSnapshot(
                SessionKey("u", sid),
                {"status": "completed", **({"bigquerySyncStatus": st} if st else {})},
                UPDATED,
            )
            for sid, st in statuses.items()
        ]
        self.windows: list[dict[str, Any]] = []

    def completed_sessions(self, **window: Any) -> Iterator[tuple[SessionSnapshot, str]]:
        self.windows.append(window)
        return iter((snapshot, f"token-{i}") for i, snapshot in enumerate(self.snapshots))


def record(number: int, status: FailureStatus, *, user: str = "u") -> FailureRecord:
    return FailureRecord(
        record_id=f"r{number}",
        user_id=user,
        session_id=f"s{number}" if user else "",
        event_id=f"e{number}",
        failure_reason="boom",
        status=status,
    )


def test_session_argument_is_user_slash_session() -> None:
    assert selectors.parse_session("user-1/session-9") == SessionKey("user-1", "session-9")


@pytest.mark.parametrize(
    "text", ["user-1", "/s", "u/", "u/s/x", "__u__/s", "u/..", " /s", "u/" + "x" * 1501]
)
def test_session_argument_rejects_what_cannot_name_a_document(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        selectors.parse_session(text)


def test_id_file_streams_sessions_skipping_blank_lines_and_extra_fields(tmp_path: Path) -> None:
    path = tmp_path / "ids.jsonl"
    path.write_text(
        '{"user_id": "u1", "session_id": "s1"}\n\n'
        '{"finding": "missing", "user_id": "u2", "session_id": "s2", "user_id_hash": "ab"}\n'
    )
    assert list(selectors.file_sessions(path)) == [SessionKey("u1", "s1"), SessionKey("u2", "s2")]
    assert selectors.count_file_sessions(path) == 2


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("u1/s1", "not JSON"),
        ('["u1", "s1"]', "expected an object"),
        ('{"user_id": "u1"}', "must both be strings"),
        ('{"user_id": null, "session_id": "s"}', "must both be strings"),
        ('{"user_id": "u/1", "session_id": "s"}', "user_id"),
    ],
)
def test_id_file_names_the_first_bad_line(tmp_path: Path, line: str, needle: str) -> None:
    path = tmp_path / "ids.jsonl"
    path.write_text(json.dumps({"user_id": "u", "session_id": "s"}) + "\n" + line + "\n")
    with pytest.raises(UsageError, match=needle) as caught:
        selectors.count_file_sessions(path)
    assert f"{path}:2" in str(caught.value)


def test_unreadable_id_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        selectors.count_file_sessions(tmp_path / "absent.jsonl")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UsageError, match="cannot read"):
        selectors.count_file_sessions(binary)


def test_failure_selection_reads_each_status_once_and_skips_records_without_a_session() -> None:
    failures = StatusFailures()
    for item in (
        record(1, FailureStatus.PENDING),
        record(2, FailureStatus.ABANDONED),
        record(3, FailureStatus.RESOLVED),
        record(4, FailureStatus.INVALID),
        record(5, FailureStatus.ABANDONED, user=""),
    ):
        failures.records[item.record_id] = item
    skipped: list[str] = []

    keys = list(
        selectors.failure_sessions(failures, ["pending", "abandoned", "pending"], skipped=skipped)
    )

    assert keys == [SessionKey("u", "s1"), SessionKey("u", "s2")]
    assert skipped == ["r5"]


def test_default_failure_statuses_are_the_open_ones() -> None:
    assert selectors.DEFAULT_FAILURE_STATUSES == ("pending", "abandoned")


def test_status_selection_filters_completed_sessions() -> None:
    store = CompletedSessions(
        {"a": None, "b": "synced", "c": "failed", "d": "abandoned", "e": "invalid"}
    )
    since, until = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)

    chosen = list(
        selectors.status_sessions(store, ["unsynced", "abandoned"], since=since, until=until)
    )

    assert [key.session_id for key in chosen] == ["a", "d"]
    assert store.windows == [{"since": since, "until": until, "page_size": SCAN_PAGE_SIZE}]
