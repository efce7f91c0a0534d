"""Every adapter method against an emulator address where nothing listens: a quick `TransientError`.

The error is the pipeline's own (never a Google exception), names the action,
and keeps the Google or network error as its cause.
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
    FailureStatus,
    RetryTask,
    SessionKey,
    StatusUpdate,
    SyncStatus,
)
from shared.schema import columns, validate_row
from shared.settings import Settings

pytestmark = pytest.mark.integration

KEY = SessionKey("u1", "s1")
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
    "get": ("read session", lambda store: store.get(KEY)),
    "get_many": ("read sessions", lambda store: store.get_many([KEY])),
    "update_status": ("update session status", lambda store: store.update_status(KEY, SYNCED)),
    "update_statuses": (
        "update session statuses",
        lambda store: store.update_statuses([(KEY, SYNCED)]),
    ),
    "completed_sessions": (
        "list completed sessions",
        lambda store: list(store.completed_sessions()),
    ),
    "completed_sessions_ranged": (
        "list completed sessions",
        lambda store: list(store.completed_sessions(since=datetime(2026, 1, 1, tzinfo=UTC))),
    ),
}


@pytest.mark.parametrize("method", SESSION_CALLS)
def test_session_store_methods(method: str, nowhere: Settings) -> None:
    action, call = SESSION_CALLS[method]
    store = FirestoreSessionStore(clients.firestore_client(nowhere), timeout=1)

    _assert_quick_transient(lambda: call(store), action)


FAILURE_CALLS: dict[str, tuple[str, Callable[[FirestoreFailureStore], object]]] = {
    "open": ("open failure record", lambda store: store.open(RECORD)),
    "get": ("read failure record", lambda store: store.get("r1")),
    "record_retry": (
        "update failure record",
        lambda store: store.record_retry("r1", retry_count=1, reason="x"),
    ),
    "close": ("update failure record", lambda store: store.close("r1", FailureStatus.RESOLVED)),
    "resolve_open": ("resolve failure records", lambda store: store.resolve_open([KEY])),
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
    endpoint = f"127.0.0.1:{_free_port()}"
    with clients.bigquery_client(nowhere, endpoint=endpoint) as client:
        sink = BigQueryRowSink(client, nowhere.table_id, timeout=1)
        validate_row(ROW)

        _assert_quick_transient(lambda: sink.insert({"ev-1": ROW}), "insert rows")


def test_enqueue(nowhere: Settings) -> None:
    with clients.tasks_client(nowhere) as client:
        queue = CloudTasksRetryQueue(
            client, clients.queue_path(nowhere), target_url="http://127.0.0.1:9/", timeout=1
        )

        _assert_quick_transient(
            lambda: queue.enqueue(RetryTask("u1", "s1", "ev-1", "sessions")), "enqueue retry task"
        )
