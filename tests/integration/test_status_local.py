"""`session-sync status` against the Firestore emulator: count queries over a seeded project.

The documents go to a project of their own on the emulator, where no trigger is
registered, so the running pipeline leaves them as written.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cli.local.stack import LocalStack
from cli.main import main
from cli.status_cmd import FirestoreHealth, gather, lines
from shared.gcp.clients import firestore_client
from shared.gcp.firestore_failures import COLLECTION as FAILURES
from shared.settings import Settings

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
SINCE, UNTIL = NOW - timedelta(hours=24), NOW


def test_status_counts_sessions_records_and_finds_the_oldest_open(
    local_stack: LocalStack, local_settings: Settings
) -> None:
    settings = dataclasses.replace(local_settings, project=f"status-{uuid.uuid4().hex[:8]}")
    client = firestore_client(settings)
    inside, outside = NOW - timedelta(hours=1), NOW - timedelta(days=3)
    sessions = [
        ("u1", "s1", "completed", inside, "synced"),
        ("u1", "s2", "completed", inside, "synced"),
        ("u2", "s3", "completed", inside, "failed"),
        ("u2", "s4", "completed", inside, "abandoned"),
        ("u3", "s5", "completed", inside, "invalid"),
        ("u3", "s6", "completed", inside, None),
        ("u3", "s7", "active", inside, None),  # not completed: not counted
        ("u4", "s8", "completed", outside, "synced"),  # before the window
    ]
    for user, session, status, start, sync in sessions:
        document = {"status": status, "startTime": start}
        if sync:
            document["bigquerySyncStatus"] = sync
        client.document(f"users/{user}/sessions/{session}").set(document)
    records = [
        ("r1", "pending", NOW - timedelta(hours=2)),
        ("r2", "abandoned", NOW - timedelta(days=2)),  # the oldest open one, outside the window
        ("r3", "resolved", NOW - timedelta(hours=3)),
        ("r4", "invalid", NOW - timedelta(hours=4)),
        ("r5", "pending", NOW - timedelta(hours=5)),
    ]
    for record_id, status, created in records:
        client.collection(FAILURES).document(record_id).set(
            {
                "status": status,
                "createdAt": created,
                "userId": "u9",
                "sessionId": record_id,
                "failureReason": "insert failed: 503 backendError",
            }
        )

    report = gather(settings, FirestoreHealth(client), None, since=SINCE, until=UNTIL)

    assert report.sessions == {
        "total": 6,
        "synced": 2,
        "failed": 1,
        "invalid": 1,
        "abandoned": 1,
        "unsynced": 1,
    }
    assert report.sessions_counted_by == "count aggregation"
    assert report.failure_records == {"pending": 2, "resolved": 1, "abandoned": 0, "invalid": 1}
    assert report.open_records == {"pending": 2, "abandoned": 1}
    assert report.oldest_open is not None and report.oldest_open.record_id == "r2"
    table = "\n".join(lines(report, now=NOW))
    assert "6 completed: 2 synced, 1 failed, 1 abandoned, 1 invalid, 1 not yet synced" in table
    assert "3 open of any age (2 pending, 1 abandoned); oldest: abandoned since" in table
    assert "(2 d ago), u9/r2, insert failed: 503 backendError" in table
    assert "not available on the local stack" in table


def test_status_command_prints_a_table_and_json(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert main(["status", "--json", "--since", "2026-01-01"]) == 0
    report = __import__("json").loads(capsys.readouterr().out)

    assert table[0].startswith("session-sync status: local pipeline")
    assert [line.split()[0] for line in table[1:]] == [
        "sessions",
        "failure",
        "open",
        "dead",
        "push",
    ]
    assert set(report) >= {"sessions", "failure_records", "open_records", "dead_letter_backlog"}
    assert report["window"]["since"].startswith("2026-01-01T00:00:00")
    assert report["push_backlog"]["messages"] is None
