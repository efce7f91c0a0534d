"""The operator CLI against the whole local stack: trigger, push, sync and retry workers running.

Commands run in-process through `cli.main.main` (so stdin is not a terminal and
every write-like command needs `--yes`), except the interrupted backfill, which
gets a real SIGINT in a subprocess.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from cli.main import main
from cli.sample_data import completed, generate_sessions
from shared.contract import SessionCompleted
from shared.gcp.clients import publisher_client
from shared.gcp.firestore_failures import COLLECTION
from shared.model import SessionKey
from tests.conftest import REPO_ROOT
from tests.e2e.harness import Pipeline, wait_for

pytestmark = pytest.mark.e2e

SYNC_FIELDS = (
    "bigquerySyncStatus",
    "bigquerySyncedAt",
    "bigquerySyncEventId",
    "bigquerySyncError",
    "bigquerySyncRetryCount",
)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run one `session-sync` command in-process; return exit code, stdout and stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_completed(pipeline: Pipeline, count: int) -> list[SessionKey]:
    """`count` generated sessions written already completed (the trigger picks them up)."""
    keys = []
    batch = pipeline.firestore.batch()
    for number, generated in enumerate(generate_sessions(count, seed=uuid.uuid4().int % 10**6)):
        key = SessionKey(generated.user_id, generated.session_id)
        batch.set(pipeline.document(key), completed(generated.document))
        keys.append(key)
        if number % 400 == 399:
            batch.commit()
            batch = pipeline.firestore.batch()
    batch.commit()
    return keys


def statuses(pipeline: Pipeline, keys: Iterable[SessionKey]) -> dict[SessionKey, Any]:
    """`bigquerySyncStatus` of each session, read in one round trip per 500."""
    keys = list(keys)
    found: dict[SessionKey, Any] = {}
    for start in range(0, len(keys), 500):
        references = [pipeline.document(key) for key in keys[start : start + 500]]
        for snapshot in pipeline.firestore.get_all(references):
            user, session = snapshot.reference.path.split("/")[1::2]
            found[SessionKey(user, session)] = (snapshot.to_dict() or {}).get("bigquerySyncStatus")
    return found


def wait_all(pipeline: Pipeline, keys: list[SessionKey], status: str, timeout: float) -> None:
    """Wait until every session has `bigquerySyncStatus == status`."""
    wait_for(
        lambda: set(statuses(pipeline, keys).values()) == {status},
        timeout=timeout,
        what=f"{len(keys)} sessions to become {status}",
    )


def latest(pipeline: Pipeline) -> list[dict[str, Any]]:
    """All of `sessions_latest`, in key order."""
    query = f"SELECT * FROM `{pipeline.settings.latest_view_id}` ORDER BY user_id_hash, session_id"
    return [dict(row) for row in pipeline.bigquery.query(query).result()]


def raw_count(pipeline: Pipeline) -> int:
    query = f"SELECT COUNT(*) AS n FROM `{pipeline.settings.table_id}`"
    return int(next(iter(pipeline.bigquery.query(query).result())).n)


def make_unsynced(pipeline: Pipeline, count: int) -> list[SessionKey]:
    """Completed sessions with no row and no sync status, as if written before the pipeline.

    The trigger syncs them first; then the rows are deleted and the status
    fields removed (a write that is no transition to completed, so nothing is
    published again).
    """
    keys = write_completed(pipeline, count)
    wait_all(pipeline, keys, "synced", timeout=180)
    pipeline.bigquery.query(f"DELETE FROM `{pipeline.settings.table_id}` WHERE TRUE").result()
    batch = pipeline.firestore.batch()
    for number, key in enumerate(keys):
        batch.update(pipeline.document(key), dict.fromkeys(SYNC_FIELDS, firestore.DELETE_FIELD))
        if number % 400 == 399:
            batch.commit()
            batch = pipeline.firestore.batch()
    batch.commit()
    assert set(statuses(pipeline, keys).values()) == {None}
    return keys


def test_replay_of_abandoned_failures_after_an_outage(
    without_self_healing: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real outage path: BigQuery fails every request until all retries are spent
    (seconds here: the local stack compresses the retry schedule), then comes back. The
    scheduled redrive is off, so the operator's replay is what heals."""
    pipeline = without_self_healing
    pipeline.faults.set(fail_rate=1.0)
    keys = write_completed(pipeline, 8)
    wait_all(pipeline, keys, "abandoned", timeout=120)
    pipeline.faults.clear()

    code, listing, summary = cli(capsys, "failures", "list", "--status", "abandoned")
    assert code == 0
    assert len(listing.splitlines()) == 1 + len(keys)
    assert all(f"{key.user_id}/{key.session_id}" in listing for key in keys)
    assert summary.strip() == f"failures: {len(keys)} record(s) ({len(keys)} abandoned)"
    code, reported, _ = cli(capsys, "reconcile", "--json")
    assert code == 1
    assert reported.count('"finding": "missing"') == len(keys)

    code, _, summary = cli(capsys, "replay", "--failures", "abandoned", "--yes")

    assert code == 0, summary
    assert f"published {len(keys)} message(s) (origin=replay)" in summary
    wait_all(pipeline, keys, "synced", timeout=60)
    records = wait_for(
        lambda: (
            (docs := [d.to_dict() for d in pipeline.firestore.collection(COLLECTION).stream()])
            and {d["status"] for d in docs} == {"resolved"}
            and docs
        ),
        what="every failure record resolved",
    )
    assert len(records) == len(keys)
    assert all(record["resolvedAt"] is not None for record in records)
    assert cli(capsys, "failures", "list", "--status", "abandoned")[1].count("\n") == 1
    assert all(len(pipeline.rows(key)) == 1 for key in keys)
    code, report, _ = cli(capsys, "reconcile")
    assert code == 0, report
    assert "result: consistent" in report


def test_reconcile_finds_deleted_rows_and_repair_restores_one_row_each(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = write_completed(pipeline, 30)
    wait_all(pipeline, keys, "synced", timeout=90)
    assert cli(capsys, "reconcile")[0] == 0
    deleted = keys[:5]
    ids = ", ".join(f"'{key.session_id}'" for key in deleted)
    pipeline.bigquery.query(
        f"DELETE FROM `{pipeline.settings.table_id}` WHERE session_id IN ({ids})"
    ).result()

    code, report, _ = cli(capsys, "reconcile", "--show", "10")

    assert code == 1
    assert re.search(r"missing from BigQuery\s+5\n", report)
    assert all(f"  {key.user_id}/{key.session_id}\n" in report for key in deleted)
    assert "result: INCONSISTENT; --repair replays" in report

    code, _, summary = cli(capsys, "reconcile", "--repair", "--yes")

    assert code == 0, summary
    assert "repair published 5 replay message(s)" in summary
    wait_for(lambda: len(latest(pipeline)) == 30, timeout=60, what="30 rows in sessions_latest")
    code, report, _ = cli(capsys, "reconcile")
    assert code == 0, report
    rows = latest(pipeline)
    assert len({(row["user_id_hash"], row["session_id"]) for row in rows}) == len(rows) == 30
    assert raw_count(pipeline) == 30


def test_reconcile_reports_stale_unexpected_and_duplicate_rows(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = write_completed(pipeline, 6)
    wait_all(pipeline, keys, "synced", timeout=60)
    edited, deleted = keys[0], keys[1]
    pipeline.document(edited).update({"repCount": 999})  # no transition: nothing is published
    pipeline.document(deleted).delete()
    query = (
        f"SELECT * FROM `{pipeline.settings.table_id}` WHERE session_id = '{keys[2].session_id}'"
    )
    [copy] = [dict(row) for row in pipeline.bigquery.query(query).result()]
    copy = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in copy.items()}
    assert pipeline.bigquery.insert_rows_json(pipeline.settings.table_id, [copy] * 2) == []

    code, lines, _ = cli(capsys, "reconcile", "--json")

    assert code == 1
    findings = [line for line in lines.splitlines() if '"finding"' in line]
    assert any('"stale"' in line and edited.session_id in line for line in findings)
    assert any('"unexpected"' in line and deleted.session_id in line for line in findings)
    assert len(findings) == 2
    assert '"raw_duplicates": {"sessions": 1, "extra_rows": 2}' in lines

    code, _, summary = cli(capsys, "reconcile", "--repair", "--yes")
    assert code == 1  # the unexpected row of the deleted session cannot be replayed away
    assert "1 unexpected row(s) remain" in summary
    wait_for(
        lambda: any(row["rep_count"] == 999 for row in pipeline.rows(edited, view=True)),
        what="the edited session's new row version",
    )
    code, lines, _ = cli(capsys, "reconcile", "--json")
    assert [line for line in lines.splitlines() if '"finding"' in line] == [
        line for line in findings if '"unexpected"' in line
    ]


def test_backfill_twice_over_1000_sessions_leaves_sessions_latest_unchanged(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = make_unsynced(pipeline, 1000)
    assert cli(capsys, "reconcile", "--grace", "0")[0] == 1

    code, _, summary = cli(capsys, "backfill", "--yes")

    assert code == 0, summary
    assert "scanned 1000 completed session(s), published 1000 (origin=backfill)" in summary
    wait_all(pipeline, keys, "synced", timeout=180)
    wait_for(lambda: raw_count(pipeline) >= 1000, what="1000 rows")
    before = latest(pipeline)
    assert len(before) == 1000

    code, _, summary = cli(capsys, "backfill", "--yes")

    assert code == 0, summary
    assert "published 0 (origin=backfill)" in summary
    assert "skipped by sync status: 1000 synced" in summary
    time.sleep(2)  # anything published would be synced well within this
    assert latest(pipeline) == before
    assert raw_count(pipeline) == 1000
    assert cli(capsys, "reconcile")[0] == 0


def test_interrupted_backfill_resumes_from_its_token_without_gaps(pipeline: Pipeline) -> None:
    keys = make_unsynced(pipeline, 300)
    command = [sys.executable, "-m", "cli.main", "backfill", "--yes"]
    with pipeline.spy() as drain:
        first = subprocess.Popen(
            [*command, "--rate", "50/s"], cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True
        )
        wait_for(
            lambda: list(statuses(pipeline, keys).values()).count("synced") >= 40,
            what="the first backfill to get going",
        )
        first.send_signal(signal.SIGINT)
        _, interrupted = first.communicate(timeout=30)
        assert first.returncode == 130, interrupted
        hint = re.search(
            r"resume with: session-sync backfill --rate 50/s --resume (\S+)", interrupted
        )
        count = re.search(r"published (\d+) \(origin=backfill\)", interrupted)
        assert hint and count, interrupted
        assert 40 <= int(count[1]) < len(keys)

        resumed = subprocess.run(
            [*command, "--resume", hint[1]],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert resumed.returncode == 0, resumed.stderr
        messages = drain(5.0)

    sessions = [json.loads(message.data)["session_id"] for message in messages]
    assert sorted(set(sessions)) == sorted(key.session_id for key in keys)  # no gaps
    assert len(sessions) - len(keys) <= 50  # at most the batch in flight at the interrupt
    wait_all(pipeline, keys, "synced", timeout=120)
    assert len(latest(pipeline)) == len(keys)
    for bad in ("garbage", "WyJub3QiXQ", hint[1]):  # WyJub3QiXQ: a cursor naming no session
        rejected = subprocess.run(
            [*command, "--resume", bad, "--since", "2026-01-01"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert rejected.returncode == 2, rejected.stderr
        assert "--resume:" in rejected.stderr


def test_failures_list_json_and_replay_by_status_and_file(
    without_self_healing: Pipeline, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    pipeline = without_self_healing
    pipeline.faults.set(fail_rate=1.0)
    keys = write_completed(pipeline, 3)
    wait_all(pipeline, keys, "abandoned", timeout=120)
    pipeline.faults.clear()

    code, lines, _ = cli(capsys, "failures", "list", "--json", "--since", "2020-01-01")
    assert code == 0 and len(lines.splitlines()) == 3
    ids = tmp_path / "ids.jsonl"
    ids.write_text(lines.splitlines()[0] + "\n")
    code, dry, summary = cli(
        capsys, "replay", "--status", "abandoned", "--file", str(ids), "--dry-run"
    )
    assert code == 0
    assert len(dry.splitlines()) == 3 and "1 repeated selection(s)" in summary
    assert set(statuses(pipeline, keys).values()) == {"abandoned"}  # a dry run publishes nothing

    code, _, summary = cli(capsys, "replay", "--status", "abandoned", "--yes", "--rate", "50/s")
    assert code == 0, summary
    wait_all(pipeline, keys, "synced", timeout=60)
    query = pipeline.firestore.collection(COLLECTION).where(
        filter=FieldFilter("status", "==", "resolved")
    )
    wait_for(lambda: len(list(query.stream())) == 3, what="3 resolved records")


def test_replay_dead_letters_drains_the_hold_subscription(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pub/Sub forwards a message to the dead-letter topic after ten failed push deliveries;
    here the messages are published there directly, as that forwarding would."""
    keys = make_unsynced(pipeline, 3)
    settings = pipeline.settings
    with publisher_client(settings) as publisher:
        topic = publisher.topic_path(settings.project, settings.dead_letter_topic)
        for key in keys:
            data, attributes = SessionCompleted(
                key.user_id, key.session_id, uuid.uuid4().hex
            ).encode()
            publisher.publish(topic, data, **attributes).result(timeout=10)
        publisher.publish(topic, b"not a session message").result(timeout=10)

    code, listed, summary = cli(capsys, "replay", "--dead-letters", "--dry-run")
    assert code == 0, summary
    assert sorted(listed.splitlines()) == sorted(
        json.dumps({"user_id": key.user_id, "session_id": key.session_id}) for key in keys
    )
    assert "4 dead letter(s) read (all left held: dry run), 1 undecodable left held" in summary

    code, _, summary = cli(capsys, "replay", "--dead-letters", "--yes")

    assert code == 0, summary
    assert "published 3 message(s)" in summary
    wait_all(pipeline, keys, "synced", timeout=60)
    assert all(len(pipeline.rows(key)) == 1 for key in keys)
    code, _, summary = cli(capsys, "replay", "--dead-letters", "--yes")
    assert "published 0 message(s)" in summary
    assert "1 dead letter(s) read, 1 undecodable left held" in summary
