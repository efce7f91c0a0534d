"""`build_sync_ports` wired to the real emulators: sessions synced end to end by `sync_sessions`.

The stack's trigger is stopped for this module (and started again after it):
otherwise the running pipeline would sync the same documents in parallel.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from cli.local.stack import LocalStack
from shared.bootstrap import build_sync_ports
from shared.contract import SessionCompleted
from shared.episodes import CHANGED_DURING_SYNC
from shared.fingerprint import document_fingerprint, row_fingerprint
from shared.gcp import clients
from shared.gcp.bigquery_sink import BigQueryRowSink
from shared.gcp.firestore_failures import FirestoreFailureStore
from shared.gcp.firestore_sessions import FirestoreSessionStore
from shared.model import SessionKey, SessionSnapshot
from shared.settings import LOCAL_SALT, Settings
from shared.sync import Outcome, Verdict, sync_sessions
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


def _session(settings: Settings) -> tuple[SessionKey, dict[str, Any], Any]:
    """A new completed session in the `(default)` database: its key, document and reference."""
    key = SessionKey(f"user-{uuid.uuid4().hex[:8]}", f"session-{uuid.uuid4().hex[:8]}")
    document = {**full_document(), "sessionId": key.session_id}
    reference = clients.firestore_client(settings).document(key.path)
    reference.set(document)
    return key, document, reference


def test_a_completed_session_is_synced_once(
    quiet_stack: LocalStack, local_settings: Settings
) -> None:
    key, document, reference = _session(local_settings)
    read = reference.get()
    message = SessionCompleted(key.user_id, key.session_id, f"ev-{uuid.uuid4().hex}")
    ports = build_sync_ports(local_settings)

    first = sync_sessions([message], ports)

    assert isinstance(ports.sessions, FirestoreSessionStore)
    assert isinstance(ports.failures, FirestoreFailureStore)
    assert isinstance(ports.sink, BigQueryRowSink)
    assert ports.table == local_settings.bq_table
    snapshot = SessionSnapshot(key, document, read.update_time)
    assert first == [Verdict(message, Outcome.SYNCED, None, snapshot)]
    [row] = _rows(local_settings, key.session_id)
    assert row["user_id_hash"] == hashlib.sha256((key.user_id + LOCAL_SALT).encode()).hexdigest()
    assert key.user_id not in row.values()
    assert _near_now(row["synced_at"])
    assert row == {
        "user_id_hash": row["user_id_hash"],
        "session_id": key.session_id,
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
    assert synced.update_time > read.update_time
    fields = synced.to_dict() or {}
    assert _near_now(fields.pop("bigquerySyncedAt"))
    fingerprint = fields.pop("bigquerySyncFingerprint")
    assert fields == {
        **document,
        "bigquerySyncStatus": "synced",
        "bigquerySyncEventId": message.event_id,
        "bigquerySyncError": None,
    }
    # The fingerprint vouches for the row BigQuery holds, and for the document as it is.
    assert fingerprint == row_fingerprint(row)
    assert fingerprint == document_fingerprint(snapshot, ports.pseudonymizer)

    second = sync_sessions([message], ports)

    assert [verdict.outcome for verdict in second] == [Outcome.ALREADY_SYNCED]
    same_content = SessionCompleted(key.user_id, key.session_id, f"ev-{uuid.uuid4().hex}")
    third = sync_sessions([same_content], ports)
    assert [verdict.outcome for verdict in third] == [Outcome.COVERED]  # that content is in
    assert len(_rows(local_settings, key.session_id)) == 1
    assert reference.get().update_time == synced.update_time  # nothing written


class EditingClient(firestore.Client):
    """The real Firestore client; the app edits a session just before its first write batch."""

    def __init__(self, project: str, path: str, edit: dict[str, Any]) -> None:
        super().__init__(project=project)
        self._edit: tuple[str, dict[str, Any]] | None = (path, edit)

    def batch(self) -> Any:
        if self._edit is not None:
            path, edit = self._edit
            self._edit = None
            self.document(path).update(edit)
        return super().batch()


def test_a_session_edited_during_its_sync_is_not_marked_synced(
    quiet_stack: LocalStack, local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The status write is conditional on the version read: the newer content wins."""
    assert local_settings.firestore_emulator_host
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", local_settings.firestore_emulator_host)
    key, _, reference = _session(local_settings)
    message = SessionCompleted(key.user_id, key.session_id, f"ev-{uuid.uuid4().hex}")
    ports = build_sync_ports(local_settings)
    editing = EditingClient(local_settings.project, key.path, {"repCount": 31})
    racing = dataclasses.replace(ports, sessions=FirestoreSessionStore(editing))

    [verdict] = sync_sessions([message], racing)

    assert (verdict.outcome, verdict.error) == (Outcome.FAILED, CHANGED_DURING_SYNC)
    edited = reference.get()
    assert edited.get("repCount") == 31
    assert not any(name.startswith("bigquerySync") for name in edited.to_dict() or {})
    assert [row["rep_count"] for row in _rows(local_settings, key.session_id)] == [30]

    again = SessionCompleted(key.user_id, key.session_id, f"ev-{uuid.uuid4().hex}")
    [synced] = sync_sessions([again], ports)

    assert synced.outcome is Outcome.SYNCED
    rows = _rows(local_settings, key.session_id)
    assert sorted(row["rep_count"] for row in rows) == [30, 31]
    [newest] = [row for row in rows if row["rep_count"] == 31]
    after = reference.get().to_dict() or {}
    assert after["bigquerySyncEventId"] == again.event_id
    assert after["bigquerySyncFingerprint"] == row_fingerprint(newest)
