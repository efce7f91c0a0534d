"""Every adapter method against an emulator address where nothing listens: a quick `TransientError`.

The error is the pipeline's own (never a Google exception), names the action,
and keeps the Google or network error as its cause. The BigQuery sink never
raises: it returns that error for each row instead.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from google.api_core import exceptions

from shared.contract import SessionCompleted
from shared.errors import TransientError
from shared.gcp import clients
from shared.gcp.bigquery_sink import BigQueryRowSink
from shared.gcp.firestore_failures import FirestoreFailureStore
from shared.gcp.firestore_sessions import FirestoreSessionStore
from shared.gcp.pubsub_publisher import PubSubPublisher
from shared.gcp.tasks_queue import CloudTasksRetryQueue
from shared.model import (
    FailureRecord,
    RecordChange,
    RetryTask,
    SessionKey,
    Stamp,
    StatusUpdate,
    StatusWrite,
    SyncStatus,
)
from shared.ports import RedriveState
from shared.schema import columns, validate_row
from shared.settings import Settings

pytestmark = pytest.mark.integration

KEY = SessionKey("u1", "s1")
AT = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
SYNCED = StatusUpdate(SyncStatus.SYNCED, event_id="ev-1")
RECORD = FailureRecord(
    record_id="r1", user_id="u1", session_id="s1", event_id="ev-1", failure_reason="x"
)
# A row that passes schema validation, so the sink really tries the network.
ROW = {
    **{column.name: None for column in columns()},
    "user_id_hash": "0" * 64,
    "session_id": "s1",
    "start_time": "2026-05-01T10:00:00.000000Z",
    "warnings": [],
    "created_at": "2026-05-01T10:00:00.000000Z",
    "synced_at": "2026-05-01T10:05:00.000000Z",
}


def _free_port() -> int:
    """A port on 127.0.0.1 where nothing listens (it was just free)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def nowhere(local_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose every emulator address refuses connections.

    The Firestore and Pub/Sub libraries read their emulator address from the
    environment; monkeypatch restores it after the test.
    """
    address = f"127.0.0.1:{_free_port()}"
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", address)
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", address)
    return dataclasses.replace(
        local_settings,
        firestore_emulator_host=address,
        pubsub_emulator_host=address,
        bigquery_emulator_host=address,
        tasks_emulator_host=address,
    )


def _assert_quick_transient(call: Callable[[], object], action: str) -> None:
    started = time.monotonic()
    with pytest.raises(TransientError) as raised:
        call()
    elapsed = time.monotonic() - started

    assert str(raised.value).startswith(f"{action}: ")
    assert not isinstance(raised.value, exceptions.GoogleAPIError)
    assert isinstance(raised.value.__cause__, exceptions.GoogleAPIError | OSError | TimeoutError)
    assert elapsed < 5, f"{action} took {elapsed:.1f} s"


SESSION_CALLS: dict[str, tuple[str, Callable[[FirestoreSessionStore], object]]] = {
    "get_many": ("read sessions", lambda store: store.get_many([KEY])),
    "write_statuses": (
        "update session statuses",
        lambda store: store.write_statuses([StatusWrite(KEY, SYNCED, AT)]),
    ),
    "completed_sessions": (
        "list completed sessions",
        lambda store: list(store.completed_sessions()),
    ),
    "completed_sessions_ranged": (
        "list completed sessions",
        lambda store: list(store.completed_sessions(since=AT)),
    ),
}


@pytest.mark.parametrize("method", SESSION_CALLS)
def test_session_store_methods(method: str, nowhere: Settings) -> None:
    action, call = SESSION_CALLS[method]
    store = FirestoreSessionStore(clients.firestore_client(nowhere), timeout=1)

    _assert_quick_transient(lambda: call(store), action)


RETRIED = RecordChange(retry_count=1, reason="x", stamps=(Stamp.RETRIED,))
FAILURE_CALLS: dict[str, tuple[str, Callable[[FirestoreFailureStore], object]]] = {
    "create": ("create failure record", lambda store: store.create(RECORD)),
    "get": ("read failure record", lambda store: store.get("r1")),
    "get_many": ("read failure records", lambda store: store.get_many(["r1", "r2"])),
    "update": ("update failure records", lambda store: store.update("r1", RETRIED, expected=AT)),
    "update_many": (
        "update failure records",
        lambda store: store.update_many([("r1", RETRIED, AT), ("r2", RETRIED, None)]),
    ),
    "open_records": ("read open failure records", lambda store: store.open_records([KEY])),
    "due": (
        "list failure records",
        lambda store: list(store.due(now=AT, stuck_before=AT, limit=10)),
    ),
    "redrive_state": ("read redrive state", lambda store: store.redrive_state()),
    "save_redrive_state": (
        "save redrive state",
        lambda store: store.save_redrive_state(RedriveState(1, AT, "down")),
    ),
    "list": ("list failure records", lambda store: list(store.list())),
}


@pytest.mark.parametrize("method", FAILURE_CALLS)
def test_failure_store_methods(method: str, nowhere: Settings) -> None:
    action, call = FAILURE_CALLS[method]
    store = FirestoreFailureStore(clients.firestore_client(nowhere), timeout=1)

    _assert_quick_transient(lambda: call(store), action)


def test_publish(nowhere: Settings) -> None:
    # Not closed: the client's batch thread keeps retrying in the background, and
    # closing its channel under it would only make that thread fail noisily.
    client = clients.publisher_client(nowhere)
    publisher = PubSubPublisher(client, nowhere.project, nowhere.topic, timeout=1)

    _assert_quick_transient(
        lambda: publisher.publish([SessionCompleted("u1", "s1", "ev-1")]), "publish"
    )


def test_insert_rows(nowhere: Settings) -> None:
    """The sink never raises: each row of the failed request comes back with the error."""
    endpoint = f"127.0.0.1:{_free_port()}"
    with clients.bigquery_client(nowhere, endpoint=endpoint) as client:
        sink = BigQueryRowSink(client, nowhere.table_id, timeout=1)
        validate_row(ROW)
        started = time.monotonic()

        errors = sink.insert({"ev-1": ROW, "ev-2": {**ROW, "session_id": "s2"}})

        elapsed = time.monotonic() - started
    assert list(errors) == ["ev-1", "ev-2"]
    for error in errors.values():
        assert type(error) is TransientError
        assert str(error).startswith("insert rows: ")
        assert isinstance(error.__cause__, exceptions.GoogleAPIError | OSError | TimeoutError)
    assert elapsed < 5, f"insert took {elapsed:.1f} s"


def test_enqueue(nowhere: Settings) -> None:
    with clients.tasks_client(nowhere) as client:
        queue = CloudTasksRetryQueue(
            client, clients.queue_path(nowhere), target_url="http://127.0.0.1:9/", timeout=1
        )

        _assert_quick_transient(
            lambda: queue.enqueue(RetryTask("u1", "s1", "ev-1", "sessions", generation=2)),
            "enqueue retry task",
        )
