"""`FirestoreFailureStore` against the Firestore emulator: the `bigquerySyncFailures` records.

Each test works in a database of its own, so the records the running pipeline
writes into `(default)` never show up in a listing here.
"""

from __future__ import annotations

import dataclasses
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent import futures
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.types import firestore as firestore_types

from cli.local.stack import LocalStack
from shared.errors import TransientError
from shared.gcp import clients
from shared.gcp.firestore_failures import COLLECTION, PAGE_SIZE, FirestoreFailureStore
from shared.model import FailureRecord, FailureStatus, SessionKey, episode_id
from shared.settings import Settings

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def client(local_stack: LocalStack, local_settings: Settings) -> Iterator[firestore.Client]:
    """A client of a fresh database on the emulator, dropped after the test."""
    clients.firestore_client(local_settings)  # points the Firestore library at the emulator
    database = f"adapters-{uuid.uuid4().hex[:12]}"
    yield firestore.Client(project=local_settings.project, database=database)
    url = (
        f"http://{local_settings.firestore_emulator_host}/emulator/v1/projects/"
        f"{local_settings.project}/databases/{database}/documents"
    )
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10):
        pass


@pytest.fixture
def store(client: firestore.Client) -> FirestoreFailureStore:
    return FirestoreFailureStore(client, timeout=5)


def _record(
    event_id: str,
    *,
    user_id: str = "u1",
    session_id: str = "s1",
    status: FailureStatus = FailureStatus.PENDING,
    reason: str = "BigQuery unavailable",
) -> FailureRecord:
    return FailureRecord(
        record_id=episode_id(event_id),
        user_id=user_id,
        session_id=session_id,
        event_id=event_id,
        failure_reason=reason,
        status=status,
        origin="replay",
    )


def _raw(client: firestore.Client, record_id: str) -> dict[str, Any]:
    data = client.collection(COLLECTION).document(record_id).get().to_dict()
    assert data is not None, f"no record {record_id}"
    return data


def _get(store: FirestoreFailureStore, record_id: str) -> FailureRecord:
    record = store.get(record_id)
    assert record is not None, f"no record {record_id}"
    return record


def _near_now(moment: Any) -> bool:
    now = datetime.now(UTC)
    return isinstance(moment, datetime) and now - timedelta(seconds=30) <= moment <= now


def test_open_creates_the_record_with_every_field(
    store: FirestoreFailureStore, client: firestore.Client
) -> None:
    record = _record("ev-1", reason="r" * 2000)

    opened = store.open(record)

    raw = _raw(client, record.record_id)
    assert _near_now(raw.pop("createdAt")) and _near_now(raw.pop("updatedAt"))
    assert raw == {
        "userId": "u1",
        "sessionId": "s1",
        "sessionKey": "u1/s1",
        "eventId": "ev-1",
        "origin": "replay",
        "table": "sessions",
        "failureReason": "r" * 1500,
        "status": "pending",
        "retryCount": 0,
        "lastRetryAt": None,
        "resolvedAt": None,
    }
    assert _near_now(opened.created_at)
    assert opened == dataclasses.replace(
        record, failure_reason="r" * 1500, created_at=opened.created_at
    )
    assert store.get(record.record_id) == opened


def test_open_returns_the_existing_record_of_the_same_episode(
    store: FirestoreFailureStore,
) -> None:
    first = store.open(_record("ev-1", reason="first"))

    again = store.open(_record("ev-1", reason="second", status=FailureStatus.INVALID))

    assert again == first
    assert again.failure_reason == "first" and again.status is FailureStatus.PENDING
    invalid = store.open(_record("ev-2", status=FailureStatus.INVALID))
    assert invalid.status is FailureStatus.INVALID


class AbortingFirestore(grpc.GenericRpcHandler):
    """A Firestore gRPC endpoint that aborts every commit (contention) and records each call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method: str = handler_call_details.method
        self.calls.append(method.rsplit("/", 1)[-1])
        if method != "/google.firestore.v1.Firestore/Commit":
            return None  # UNIMPLEMENTED

        def commit(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(grpc.StatusCode.ABORTED, "too much contention on these documents")

        return grpc.unary_unary_rpc_method_handler(
            commit, request_deserializer=firestore_types.CommitRequest.deserialize
        )


def test_an_aborted_create_is_transient_not_an_existing_record(
    local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ABORTED is a 409 like ALREADY_EXISTS, but nothing was written: retry, never read back."""
    endpoint = AbortingFirestore()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=(endpoint,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{port}")
        store = FirestoreFailureStore(firestore.Client(project=local_settings.project), timeout=2)

        with pytest.raises(TransientError, match=r"^open failure record: Aborted: 409"):
            store.open(_record("ev-1"))
    finally:
        server.stop(grace=None)

    assert endpoint.calls == ["Commit"] * 3


def test_get_of_an_unknown_record_is_none(store: FirestoreFailureStore) -> None:
    assert store.get(episode_id("never-failed")) is None


def test_record_retry_counts_the_attempt_and_keeps_the_status(
    store: FirestoreFailureStore, client: firestore.Client
) -> None:
    record = store.open(_record("ev-1"))

    store.record_retry(record.record_id, retry_count=3, reason="503 again")

    retried = store.get(record.record_id)
    assert retried is not None
    assert _near_now(retried.last_retry_at)
    assert (retried.retry_count, retried.failure_reason, retried.status) == (
        3,
        "503 again",
        FailureStatus.PENDING,
    )
    assert retried.created_at == record.created_at


def test_record_retry_of_a_missing_record_raises_and_creates_nothing(
    store: FirestoreFailureStore, client: firestore.Client
) -> None:
    record_id = episode_id("never-opened")

    with pytest.raises(TransientError, match=r"^update failure record: NotFound"):
        store.record_retry(record_id, retry_count=1, reason="x")

    assert not client.collection(COLLECTION).document(record_id).get().exists


def test_close_sets_the_final_status_and_resolved_at_only_when_resolved(
    store: FirestoreFailureStore,
) -> None:
    resolved = store.open(_record("ev-1"))
    abandoned = store.open(_record("ev-2"))
    invalid = store.open(_record("ev-3"))

    store.close(resolved.record_id, FailureStatus.RESOLVED, retry_count=2)
    store.close(abandoned.record_id, FailureStatus.ABANDONED, reason="gave up", retry_count=10)
    store.close(invalid.record_id, FailureStatus.INVALID, reason="bad startTime")

    after = {r.event_id: _get(store, r.record_id) for r in (resolved, abandoned, invalid)}
    assert after["ev-1"].status is FailureStatus.RESOLVED and _near_now(after["ev-1"].resolved_at)
    assert (after["ev-1"].retry_count, after["ev-1"].failure_reason) == (2, resolved.failure_reason)
    assert (after["ev-2"].status, after["ev-2"].resolved_at) == (FailureStatus.ABANDONED, None)
    assert (after["ev-2"].retry_count, after["ev-2"].failure_reason) == (10, "gave up")
    assert (after["ev-3"].status, after["ev-3"].resolved_at) == (FailureStatus.INVALID, None)
    assert (after["ev-3"].retry_count, after["ev-3"].failure_reason) == (0, "bad startTime")


def test_resolve_open_resolves_pending_and_abandoned_records_of_the_sessions(
    store: FirestoreFailureStore, client: firestore.Client
) -> None:
    a, b, c = SessionKey("u1", "a"), SessionKey("u1", "b"), SessionKey("u2", "c")
    records = {
        "a-pending": _record("a-pending", session_id="a"),
        "a-abandoned": _record("a-abandoned", session_id="a", status=FailureStatus.ABANDONED),
        "a-invalid": _record("a-invalid", session_id="a", status=FailureStatus.INVALID),
        "a-resolved": _record("a-resolved", session_id="a", status=FailureStatus.RESOLVED),
        "b-pending": _record("b-pending", session_id="b"),
        "c-pending": _record("c-pending", user_id="u2", session_id="c"),
    }
    for record in records.values():
        store.open(record)

    assert store.resolve_open([a, b, a]) == 3

    after = {event: _get(store, r.record_id) for event, r in records.items()}
    assert {event: r.status.value for event, r in after.items()} == {
        "a-pending": "resolved",
        "a-abandoned": "resolved",
        "a-invalid": "invalid",
        "a-resolved": "resolved",
        "b-pending": "resolved",
        "c-pending": "pending",
    }
    for event in ("a-pending", "a-abandoned", "b-pending"):
        assert _near_now(after[event].resolved_at), event
    assert after["a-resolved"].resolved_at is None  # was opened resolved: left alone
    assert store.resolve_open([a, b]) == 0
    assert store.resolve_open([]) == 0
    assert store.resolve_open([c]) == 1


def test_resolve_open_covers_more_sessions_than_one_in_filter_takes(
    store: FirestoreFailureStore,
) -> None:
    keys = [SessionKey("u1", f"s{n:02d}") for n in range(45)]  # 30 per `in` filter
    for key in keys:
        store.open(_record(f"ev-{key.session_id}", session_id=key.session_id))

    assert store.resolve_open(keys) == 45

    assert list(store.list(status=FailureStatus.PENDING)) == []
    assert len(list(store.list(status=FailureStatus.RESOLVED))) == 45


def test_list_streams_newest_first_by_status_and_since(store: FirestoreFailureStore) -> None:
    opened = [store.open(_record(f"ev-{n}", session_id=f"s{n}")) for n in range(4)]
    store.close(opened[1].record_id, FailureStatus.ABANDONED)
    store.close(opened[2].record_id, FailureStatus.INVALID)

    def events(records: Iterator[FailureRecord]) -> list[str]:
        return [record.event_id for record in records]

    newest_first = sorted(opened, key=lambda r: (r.created_at, r.record_id), reverse=True)
    assert events(store.list()) == [r.event_id for r in newest_first]
    assert events(store.list(status=FailureStatus.PENDING)) == [
        r.event_id for r in newest_first if r.event_id in ("ev-0", "ev-3")
    ]
    assert events(store.list(status=FailureStatus.ABANDONED)) == ["ev-1"]
    assert events(store.list(status=FailureStatus.RESOLVED)) == []
    since = opened[2].created_at
    assert since is not None
    assert events(store.list(since=since)) == [
        r.event_id for r in newest_first if r.created_at and r.created_at >= since
    ]
    assert events(store.list(status=FailureStatus.INVALID, since=since)) == ["ev-2"]
    assert events(store.list(since=datetime.now(UTC) + timedelta(minutes=1))) == []


def test_list_pages_through_more_records_than_one_page(
    store: FirestoreFailureStore, client: firestore.Client
) -> None:
    count = PAGE_SIZE + 3
    batch = client.batch()
    for n in range(count):
        batch.set(
            client.collection(COLLECTION).document(f"r{n:04d}"),
            {
                "userId": "u1",
                "sessionId": f"s{n}",
                "eventId": f"ev-{n}",
                "status": "pending",
                # Pairs of records share a creation time: the id breaks the tie.
                "createdAt": T0 + timedelta(seconds=n // 2),
            },
        )
    batch.commit()

    listed = [record.record_id for record in store.list()]

    expected = sorted((f"r{n:04d}" for n in range(count)), key=lambda r: (int(r[1:]) // 2, r))
    assert listed == expected[::-1]
