"""`build_sync_ports` wired to the real emulators: one session synced end to end by `sync_sessions`.

The stack's trigger is stopped for this module (and started again after it):
otherwise the running pipeline would sync the same document in parallel.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cli.local.stack import LocalStack
from shared.bootstrap import build_sync_ports
from shared.contract import SessionCompleted
from shared.gcp import clients
from shared.gcp.bigquery_sink import BigQueryRowSink
from shared.gcp.firestore_failures import FirestoreFailureStore
from shared.gcp.firestore_sessions import FirestoreSessionStore
from shared.settings import LOCAL_SALT, Settings
from shared.sync import Outcome, SyncResult, sync_sessions
from tests.unit.documents import full_document

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def quiet_stack(local_stack: LocalStack) -> Iterator[LocalStack]:
    """The stack without its Firestore trigger, which is started again afterwards."""
    local_stack.stop_service("trigger")
    try:
        yield local_stack
    finally:
        local_stack.up()


def _rows(settings: Settings, session_id: str) -> list[dict[str, Any]]:
    query = f"SELECT * FROM `{settings.table_id}` WHERE session_id = '{session_id}'"
    with clients.bigquery_client(settings) as bq:
        return [dict(row) for row in bq.query(query, timeout=10).result(timeout=10)]


def _near_now(moment: Any) -> bool:
    now = datetime.now(UTC)
    return isinstance(moment, datetime) and now - timedelta(seconds=60) <= moment <= now


def test_a_completed_session_is_synced_once(
    quiet_stack: LocalStack, local_settings: Settings
) -> None:
    user_id, session_id = f"user-{uuid.uuid4().hex[:8]}", f"session-{uuid.uuid4().hex[:8]}"
    document = {**full_document(), "sessionId": session_id}
    reference = clients.firestore_client(local_settings).document(
        f"users/{user_id}/sessions/{session_id}"
    )
    reference.set(document)
    message = SessionCompleted(user_id, session_id, f"ev-{uuid.uuid4().hex}")
    ports = build_sync_ports(local_settings)

    first = sync_sessions([message], ports)

    assert isinstance(ports.sessions, FirestoreSessionStore)
    assert isinstance(ports.failures, FirestoreFailureStore)
    assert isinstance(ports.sink, BigQueryRowSink)
    assert ports.table == local_settings.bq_table
    assert first == [SyncResult(message, Outcome.SYNCED)]
    [row] = _rows(local_settings, session_id)
    assert row["user_id_hash"] == hashlib.sha256((user_id + LOCAL_SALT).encode()).hexdigest()
    assert user_id not in row.values()
    assert _near_now(row["synced_at"])
    assert row == {
        "user_id_hash": row["user_id_hash"],
        "session_id": session_id,
        "exercise_type": "squat",
        "start_time": datetime(2026, 3, 4, 5, 0, tzinfo=UTC),
        "end_time": datetime(2026, 3, 4, 5, 30, tzinfo=UTC),
        "duration": 1800.5,
        "status": "completed",
        "rep_count": 30,
        "set_count": 3,
        "overall_score": 87.5,
        "good_frames": 900,
        "warning_frames": 80,
        "error_frames": 20,
        "warnings": ["knees_in", "back_round"],
        "camera_position": "front",
        "camera_resolution": "1280x720",
        "camera_fps": 30.0,
        "total_frames": 1000,
        "processed_frames": 990,
        "average_fps": 29.5,
        "frame_drop_count": 10,
        "average_confidence": 0.93,
        "average_inference_time": 12.5,
        "max_inference_time": 40.0,
        "min_inference_time": 8.25,
        "platform": "ios",
        "os_version": "17.4",
        "device_model": "iPhone15,2",
        "device_memory": 6.0,
        "created_at": datetime(2026, 3, 4, 4, 59, tzinfo=UTC),
        "synced_at": row["synced_at"],
    }
    synced = reference.get()
    fields = synced.to_dict() or {}
    assert _near_now(fields.pop("bigquerySyncedAt"))
    assert fields == {
        **document,
        "bigquerySyncStatus": "synced",
        "bigquerySyncEventId": message.event_id,
        "bigquerySyncError": None,
    }

    second = sync_sessions([message], ports)

    assert second == [SyncResult(message, Outcome.ALREADY_SYNCED)]
    assert len(_rows(local_settings, session_id)) == 1
    assert reference.get().update_time == synced.update_time  # nothing written
