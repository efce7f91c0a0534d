"""Reconcile's comparison: fingerprints, sorted merge, in-flight rules, external sort, report."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cli.reconcile_cmd import ReconcileRequest, Report, render
from shared.external_sort import sorted_stream
from shared.model import SessionKey, SessionSnapshot
from shared.ports import RawDuplicates
from shared.pseudonym import Pseudonymizer
from shared.reconcile import (
    BigQueryEntry,
    Comparison,
    Finding,
    FirestoreEntry,
    Freshness,
    bigquery_entry,
    compare,
    firestore_entry,
    row_fingerprint,
)
from shared.rows import session_row
from shared.schema import columns
from tests.unit.documents import SALT, full_document

PSEUDONYMIZER = Pseudonymizer(SALT)
STARTED = 1_000_000.0
FRESH = Freshness(started=STARTED, grace=120.0)


def as_read_back(row: dict[str, Any]) -> dict[str, Any]:
    """The row as the BigQuery client returns it: timestamps as aware datetimes."""
    kinds = {column.name: column.type for column in columns()}
    return {
        name: datetime.fromisoformat(value.replace("Z", "+00:00"))
        if kinds[name] == "TIMESTAMP" and value is not None
        else value
        for name, value in row.items()
    }


def snapshot(
    user: str = "u1",
    session: str = "s1",
    document: dict[str, Any] | None = None,
    *,
    updated: float = STARTED - 3600,
) -> SessionSnapshot:
    data = document if document is not None else full_document()
    data["sessionId"] = session
    return SessionSnapshot(SessionKey(user, session), data, datetime.fromtimestamp(updated, tz=UTC))


def row_of(snap: SessionSnapshot, synced: float = STARTED - 3000) -> dict[str, Any]:
    row = session_row(
        snap.key.user_id,
        snap.key.session_id,
        snap.data,
        pseudonymizer=PSEUDONYMIZER,
        synced_at=datetime.fromtimestamp(synced, tz=UTC),
    )
    return as_read_back(row)


def fs(
    name: str,
    fingerprint: str | None = "f",
    *,
    status: str | None = "synced",
    updated: float = STARTED - 3600,
) -> FirestoreEntry:
    return FirestoreEntry(f"h-{name}", name, f"user-{name}", fingerprint, status, updated)


def bq(name: str, fingerprint: str = "f", *, synced: float = STARTED - 3000) -> BigQueryEntry:
    return BigQueryEntry(f"h-{name}", name, fingerprint, synced)


def findings(
    left: list[FirestoreEntry], right: list[BigQueryEntry], freshness: Freshness = FRESH
) -> dict[str, Finding]:
    return {c.session_id: c.finding for c in compare(left, right, freshness=freshness)}


def test_fingerprint_of_a_document_equals_that_of_its_row_read_back_whenever_synced() -> None:
    snap = snapshot()
    entry = firestore_entry(snap, PSEUDONYMIZER)
    early, late = row_of(snap, STARTED - 5000), row_of(snap, STARTED - 10)

    assert (
        entry.fingerprint == bigquery_entry(early).fingerprint == bigquery_entry(late).fingerprint
    )
    assert entry.user_id_hash == PSEUDONYMIZER.user_id_hash("u1")
    assert bigquery_entry(late).synced == pytest.approx(STARTED - 10)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("rep_count", 31),
        ("overall_score", 87.25),
        ("warnings", ["knees_in"]),
        ("end_time", datetime(2026, 3, 4, 5, 30, 0, 1, tzinfo=UTC)),
        ("platform", None),
        ("device_memory", 6.5),
    ],
)
def test_any_content_change_changes_the_fingerprint(column: str, value: Any) -> None:
    row = row_of(snapshot())
    assert row_fingerprint({**row, column: value}) != row_fingerprint(row)


def test_numbers_compare_by_value_across_int_and_float() -> None:
    row = row_of(snapshot())
    assert row_fingerprint({**row, "device_memory": 6}) == row_fingerprint(
        {**row, "device_memory": 6.0}
    )


def test_an_invalid_document_has_no_fingerprint() -> None:
    document = full_document()
    del document["startTime"]
    assert firestore_entry(snapshot(document=document), PSEUDONYMIZER).fingerprint is None


def test_entry_survives_its_disk_form() -> None:
    entry = firestore_entry(snapshot(user="ユーザー"), PSEUDONYMIZER)
    assert FirestoreEntry.load(entry.dump()) == entry
    assert "\n" not in entry.dump()


def test_merge_classifies_every_session() -> None:
    left = [
        fs("a"),
        fs("b", "new"),
        fs("c"),
        fs("e", None, status="invalid"),
        fs("f", None, status="invalid"),
        fs("g", None),
        fs("h", None, status=None),
    ]
    right = [bq("a"), bq("b", "old"), bq("d"), bq("f"), bq("g")]

    assert findings(left, right) == {
        "a": Finding.OK,
        "b": Finding.STALE,
        "c": Finding.MISSING,
        "d": Finding.UNEXPECTED,
        "e": Finding.INVALID,
        "f": Finding.INVALID,
        "g": Finding.UNRECORDED,  # became invalid after its sync, and nothing recorded it
        "h": Finding.UNRECORDED,  # its completion never reached the pipeline
    }


def test_merge_handles_empty_sides() -> None:
    assert findings([], []) == {}
    assert findings([fs("a")], []) == {"a": Finding.MISSING}
    assert findings([], [bq("a")]) == {"a": Finding.UNEXPECTED}


def test_comparisons_carry_the_raw_id_only_when_firestore_had_the_session() -> None:
    result = list(compare([fs("a")], [bq("b")], freshness=FRESH))
    assert result[0].session_key == SessionKey("user-a", "a")
    assert result[1].session_key is None and result[1].user_id is None
    assert result[1].to_json() == {
        "finding": "unexpected",
        "user_id": None,
        "session_id": "b",
        "user_id_hash": "h-b",
    }


@pytest.mark.parametrize("side", ["firestore", "bigquery"])
def test_merge_refuses_unsorted_input(side: str) -> None:
    left, right = [fs("a"), fs("b")], [bq("a"), bq("b")]
    if side == "firestore":
        left.reverse()
    else:
        right.append(bq("b"))
    with pytest.raises(ValueError, match=r"not in .* order"):
        list(compare(left, right, freshness=FRESH))


def test_recently_written_unsynced_sessions_are_in_flight_not_missing() -> None:
    recent = STARTED - 60
    left = [
        fs("a", status=None, updated=recent),
        fs("b", status="failed", updated=recent),
        fs("c", status="synced", updated=recent),
        fs("d", status="abandoned", updated=recent),
        fs("e", status=None, updated=STARTED - 600),
    ]
    assert findings(left, []) == {
        "a": Finding.IN_FLIGHT,
        "b": Finding.IN_FLIGHT,
        "c": Finding.MISSING,  # synced, yet no row: deleted behind the pipeline's back
        "d": Finding.MISSING,
        "e": Finding.MISSING,
    }
    assert findings(left, [], Freshness(STARTED, grace=0)) == dict.fromkeys(
        "abcde", Finding.MISSING
    )


def test_changes_during_the_check_are_in_flight() -> None:
    left = [fs("a", "new", updated=STARTED + 1), fs("b", updated=STARTED + 1)]
    right = [bq("a", "old"), bq("c", synced=STARTED + 2), bq("d", synced=STARTED - 1)]
    assert findings(left, right) == {
        "a": Finding.IN_FLIGHT,  # edited while we looked
        "b": Finding.IN_FLIGHT,  # completed while we looked
        "c": Finding.IN_FLIGHT,  # synced after the Firestore scan may have passed it
        "d": Finding.UNEXPECTED,
    }


def test_sessions_without_a_write_time_are_never_in_flight() -> None:
    entry = dataclasses.replace(fs("a", status=None), updated=None)
    assert findings([entry], []) == {"a": Finding.MISSING}
    assert findings([], [dataclasses.replace(bq("a"), synced=None)]) == {"a": Finding.UNEXPECTED}


def _pairs(count: int, seed: int) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    return [(f"k{rng.randrange(count // 2)}", index) for index in range(count)]


@pytest.mark.parametrize("run_size", [1, 7, 100, 10_000])
def test_external_sort_sorts_stably_at_any_run_size(run_size: int) -> None:
    items = _pairs(1000, seed=run_size)
    result = list(
        sorted_stream(
            iter(items),
            key=lambda pair: pair[0],
            dump=json.dumps,
            load=lambda line: tuple(json.loads(line)),
            run_size=run_size,
        )
    )
    assert result == sorted(items, key=lambda pair: pair[0])


def test_external_sort_spills_to_a_private_folder_and_removes_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: list[int] = []

    def load(line: str) -> int:
        if not seen:
            [folder] = list(tmp_path.iterdir())
            seen.append(os.stat(folder).st_mode & 0o777)
            seen.append(len(list(folder.iterdir())))
        value: int = json.loads(line)
        return value

    stream = sorted_stream(iter(range(25, 0, -1)), key=int, dump=json.dumps, load=load, run_size=10)
    assert next(stream) == 1
    assert seen == [0o700, 3]
    stream.close()
    assert list(tmp_path.iterdir()) == []


def test_external_sort_stays_in_memory_when_everything_fits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def load(line: str) -> int:
        raise AssertionError("nothing should be read back from disk")

    assert list(sorted_stream([3, 1, 2], key=int, dump=str, load=load, run_size=3)) == [1, 2, 3]


def test_external_sort_needs_a_positive_run_size() -> None:
    with pytest.raises(ValueError, match="run_size"):
        list(sorted_stream([1], key=int, dump=str, load=int, run_size=0))


def _report(comparisons: Iterator[Comparison], show: int = 2) -> Report:
    report = Report(show=show)
    for comparison in comparisons:
        report.add(comparison)
    return report


def test_report_counts_keeps_samples_and_the_repair_list() -> None:
    left = [fs(n) for n in "abcde"] + [fs("f", "new"), fs("g", None, status="invalid")]
    right = [bq("a"), bq("f", "old"), bq("z")]
    report = _report(compare(left, right, freshness=FRESH))

    assert report.counts[Finding.MISSING] == 4
    assert len(report.samples[Finding.MISSING]) == 2
    assert report.repairs == [SessionKey(f"user-{n}", n) for n in "bcdef"]
    assert not report.consistent
    summary = report.summary_json()
    assert summary["counts"]["stale"] == 1 and summary["counts"]["invalid"] == 1
    assert summary["consistent"] is False


def test_report_without_missing_stale_or_unexpected_is_consistent() -> None:
    left = [
        fs("a"),
        fs("b", None, status="invalid"),
        fs("c", status=None, updated=STARTED - 1),
        fs("d", None, status=None, updated=STARTED - 1),
    ]
    report = _report(compare(left, [bq("a")], freshness=FRESH))
    assert report.consistent
    assert report.repairs == []


def test_text_report_lists_ids_and_the_verdict() -> None:
    left = [fs("a"), fs("b"), fs("c"), fs("d", "new")]
    report = _report(compare(left, [bq("d", "old"), bq("z")], freshness=FRESH), show=2)
    report.duplicates = RawDuplicates(sessions=1, extra_rows=3)
    request = ReconcileRequest(since=datetime(2026, 1, 1, tzinfo=UTC))

    text = render(report, request)

    assert "start time from 2026-01-01T00:00:00+00:00 to now" in text
    assert "missing from BigQuery           3" in text
    assert "  user-a/a\n  user-b/b\n  ... and 1 more (--json lists all)" in text
    assert "user_id_hash=h-z session_id=z" in text
    assert "3 in 1 session(s)" in text
    assert text.endswith("result: INCONSISTENT; --repair replays the missing and stale sessions")
    assert render(_report(iter([]), show=2), ReconcileRequest()).endswith("result: consistent")
