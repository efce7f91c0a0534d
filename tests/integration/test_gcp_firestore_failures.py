"""`FirestoreFailureStore` against the Firestore emulator: the `bigquerySyncFailures` records.

Each test works in a database of its own, so the records the running pipeline
writes into `(default)` never show up in a listing here.

The emulator stamps `SERVER_TIMESTAMP` fields in milliseconds, a few
milliseconds before the commit time it reports as the document's update time
(Firestore itself stamps the commit time): stamped fields are compared with
the commit time to within a second.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from concurrent import futures
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.types import firestore as firestore_types

from shared.errors import TransientError
from shared.gcp.firestore_failures import (
    COLLECTION,
    MAX_BATCH_WRITES,
    PAGE_SIZE,
    STATE_COLLECTION,
    STATE_DOCUMENT,
    FirestoreFailureStore,
)
from shared.model import FailureRecord, FailureStatus, RecordChange, SessionKey, Stamp, episode_id
from shared.ports import RedriveState
from shared.settings import Settings
from tests.integration.counting_firestore import CountingClient

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
# The fields of a record no change touches once it exists.
IDENTITY = ("record_id", "user_id", "session_id", "event_id", "origin", "table", "created_at")


@pytest.fixture
def store(client: CountingClient) -> FirestoreFailureStore:
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


def _stamped_at(moment: Any, committed: datetime | None) -> bool:
    """Whether a server-timestamp field holds the commit time `committed` (see the docstring)."""
    assert committed is not None
    return isinstance(moment, datetime) and committed - timedelta(seconds=1) <= moment <= committed


def _version(client: firestore.Client, record_id: str) -> datetime:
    update_time: datetime = client.collection(COLLECTION).document(record_id).get().update_time
    return update_time


# -- create, get, get_many -------------------------------------------------------------------


def test_create_stores_every_field_and_returns_the_record_as_stored(
    store: FirestoreFailureStore, client: CountingClient
) -> None:
    record = dataclasses.replace(
        _record("ev-1", reason="r" * 2000),
        generation=2,
        retry_count=1,
        # Schedule and outcome fields start empty, whatever the record says.
        next_redrive_at=T0,
        last_retry_at=T0,
        resolved_at=T0,
        final_at=T0,
    )

    created = store.create(record)

    raw = _raw(client, record.record_id)
    version = _version(client, record.record_id)
    for stamp in ("createdAt", "openedAt", "updatedAt"):
        assert _stamped_at(raw.pop(stamp), version), stamp
    assert raw == {
        "userId": "u1",
        "sessionId": "s1",
        "sessionKey": "u1/s1",
        "eventId": "ev-1",
        "origin": "replay",
        "table": "sessions",
        "failureReason": "r" * 1500,
        "status": "pending",
        "retryCount": 1,
        "generation": 2,
        "redriveCount": 0,
        "lastRetryAt": None,
        "lastRedriveAt": None,
        "nextRedriveAt": None,
        "resolvedAt": None,
        "finalAt": None,
    }
    assert created.version == version
    assert created.created_at == created.opened_at == created.updated_at == version
    stored = _get(store, record.record_id)
    assert stored.version == created.version
    assert _stamped_at(stored.created_at, version) and _stamped_at(stored.opened_at, version)
    # Apart from the emulator's stamps, what create returns is what get reads.
    stamps = {"created_at": None, "opened_at": None, "updated_at": None}
    assert dataclasses.replace(created, **stamps) == dataclasses.replace(stored, **stamps)
    assert created.failure_reason == "r" * 1500
    assert (created.next_redrive_at, created.last_retry_at, created.resolved_at) == (None,) * 3
    assert created.final_at is None and created.is_open


def test_create_returns_the_existing_record_of_the_same_episode_untouched(
    store: FirestoreFailureStore, client: CountingClient
) -> None:
    first = store.create(_record("ev-1", reason="first"))
    raw = _raw(client, first.record_id)

    again = store.create(_record("ev-1", reason="second", status=FailureStatus.INVALID))

    assert again == _get(store, first.record_id)
    assert again.version == first.version
    assert (again.failure_reason, again.status) == ("first", FailureStatus.PENDING)
    assert _raw(client, first.record_id) == raw
    invalid = store.create(_record("ev-2", status=FailureStatus.INVALID))
    assert invalid.status is FailureStatus.INVALID


def test_a_record_written_before_episodes_had_generations_reads_as_the_first(
    store: FirestoreFailureStore, client: CountingClient
) -> None:
    record_id = episode_id("ev-old")
    client.collection(COLLECTION).document(record_id).set(
        {
            "userId": "u1",
            "sessionId": "s1",
            "eventId": "ev-old",
            "status": "abandoned",
            "retryCount": 10,
            "createdAt": T0,
            "updatedAt": T0,
        }
    )

    record = _get(store, record_id)

    assert (record.generation, record.redrive_count, record.opened_at) == (1, 0, T0)
    assert (record.origin, record.next_redrive_at, record.final_at) == ("trigger", None, None)
    assert record.is_open


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

        with pytest.raises(TransientError, match=r"^create failure record: Aborted: 409"):
            store.create(_record("ev-1"))
    finally:
        server.stop(grace=None)

    assert endpoint.calls == ["Commit"] * 3


def test_get_of_an_unknown_record_is_none(store: FirestoreFailureStore) -> None:
    assert store.get(episode_id("never-failed")) is None


def test_get_many_reads_the_existing_records_in_one_batch_get(
    store: FirestoreFailureStore, client: CountingClient
) -> None:
    a, b = store.create(_record("ev-a")), store.create(_record("ev-b", session_id="s2"))
    missing = episode_id("never-failed")

    found = store.get_many([b.record_id, missing, a.record_id])

    assert client.batch_gets == [3]
    assert found == {
        a.record_id: _get(store, a.record_id),
        b.record_id: _get(store, b.record_id),
    }
    assert found[a.record_id].version == a.version
    assert store.get_many([]) == {}
    assert client.batch_gets == [3]


# -- update, update_many ---------------------------------------------------------------------


def test_update_at_the_version_read_applies_the_change_and_returns_the_new_version(
    store: FirestoreFailureStore, client: CountingClient
) -> None:
    record = store.create(_record("ev-1"))
    before = _get(store, record.record_id)
    change = RecordChange(
        status=FailureStatus.ABANDONED,
        reason="x" * 2000,
        retry_count=10,
        next_redrive_at=T0,
        stamps=(Stamp.RETRIED,),
    )

    committed = store.update(record.record_id, change, expected=record.version)

    assert committed is not None and record.version is not None and committed > record.version
    after = _get(store, record.record_id)
    assert after.version == committed
    assert _stamped_at(after.updated_at, committed) and _stamped_at(after.last_retry_at, committed)
    assert (after.status, after.failure_reason, after.retry_count, after.next_redrive_at) == (
        FailureStatus.ABANDONED,
        "x" * 1500,
        10,
        T0,
    )
    # Fields the change leaves as None stay as they were.
    assert (after.generation, after.redrive_count, after.resolved_at, after.final_at) == (
        1,
        0,
        None,
        None,
    )
    assert [getattr(after, name) for name in IDENTITY] == [
        getattr(before, name) for name in IDENTITY
    ]
    assert after.opened_at == before.opened_at


def test_each_stamp_sets_its_field_to_the_commit_time_and_unschedule_clears_the_redrive(
    store: FirestoreFailureStore, client: CountingClient
) -> None:
    record = store.create(_record("ev-1"))
    scheduled = store.update(
        record.record_id, RecordChange(next_redrive_at=T0), expected=record.version
    )
    stamps = {
        Stamp.OPENED: "openedAt",
        Stamp.RETRIED: "lastRetryAt",
        Stamp.REDRIVEN: "lastRedriveAt",
        Stamp.RESOLVED: "resolvedAt",
        Stamp.FINAL: "finalAt",
    }
    before = _raw(client, record.record_id)
    change = RecordChange(
        status=FailureStatus.RESOLVED,
        generation=3,
        redrive_count=2,
        unschedule=True,
        stamps=tuple(stamps),
    )

    committed = store.update(record.record_id, change, expected=scheduled)

    raw = _raw(client, record.record_id)
    for field in (*stamps.values(), "updatedAt"):
        assert _stamped_at(raw[field], committed), field
    assert raw["createdAt"] == before["createdAt"]
    assert (raw["status"], raw["generation"], raw["redriveCount"], raw["nextRedriveAt"]) == (
        "resolved",
        3,
        2,
        None,
    )
    after = _get(store, record.record_id)
    assert (after.opened_at, after.resolved_at, after.final_at) == (
        raw["openedAt"],
        raw["resolvedAt"],
        raw["finalAt"],
    )
    assert not after.is_open


def test_a_stale_update_changes_nothing(
    store: FirestoreFailureStore, client: CountingClient
) -> None:
    record = store.create(_record("ev-1"))
    moved = store.update(
        record.record_id, RecordChange(retry_count=1), expected=record.version
    )  # another writer
    raw = _raw(client, record.record_id)

    stale = store.update(
        record.record_id,
        RecordChange(status=FailureStatus.RESOLVED, stamps=(Stamp.RESOLVED,)),
        expected=record.version,
    )

    assert stale is None
    assert _raw(client, record.record_id) == raw
    assert _version(client, record.record_id) == moved


def test_an_update_of_a_missing_record_is_none_and_creates_nothing(
    store: FirestoreFailureStore, client: CountingClient
) -> None:
    record_id = episode_id("never-opened")
    change = RecordChange(retry_count=1, reason="x")

    assert store.update(record_id, change, expected=T0) is None
    assert store.update(record_id, change, expected=None) is None
    assert not client.collection(COLLECTION).document(record_id).get().exists


def test_an_update_without_an_expected_version_applies_to_any_version(
    store: FirestoreFailureStore,
) -> None:
    record = store.create(_record("ev-1"))
    store.update(record.record_id, RecordChange(retry_count=1), expected=record.version)

    committed = store.update(record.record_id, RecordChange(retry_count=2), expected=None)

    after = _get(store, record.record_id)
    assert (after.version, after.retry_count) == (committed, 2)


def test_update_many_commits_500_per_batch_and_skips_only_the_stale_and_missing(
    store: FirestoreFailureStore, client: CountingClient
) -> None:
    ids = [f"r{n:03d}" for n in range(MAX_BATCH_WRITES + 1)]
    versions: dict[str, datetime] = {}
    for start in (0, MAX_BATCH_WRITES):
        seed = client.batch()
        chunk = ids[start : start + MAX_BATCH_WRITES]
        for record_id in chunk:
            seed.set(client.collection(COLLECTION).document(record_id), {"status": "abandoned"})
        versions.update(
            {i: result.update_time for i, result in zip(chunk, seed.commit(), strict=True)}
        )
    client.write_batches = 0
    redriven = RecordChange(redrive_count=1, next_redrive_at=T0, stamps=(Stamp.REDRIVEN,))

    results = store.update_many([(record_id, redriven, versions[record_id]) for record_id in ids])

    assert client.write_batches == 2  # 500 + 1 changes
    assert set(results) == set(ids)
    written = {
        doc.id: doc
        for doc in client.get_all([client.collection(COLLECTION).document(i) for i in ids])
    }
    assert results == {record_id: written[record_id].update_time for record_id in ids}
    assert {doc.get("redriveCount") for doc in written.values()} == {1}

    # A stale change and a missing record in a batch: the others still apply.
    client.collection(COLLECTION).document(ids[7]).update({"status": "resolved"})
    again = RecordChange(redrive_count=2)
    changes = [(record_id, again, results[record_id]) for record_id in ids[:10]]
    changes.append(("missing", again, None))

    second = store.update_many(changes)

    assert [record_id for record_id, at in second.items() if at is None] == [ids[7], "missing"]
    assert _raw(client, ids[7])["redriveCount"] == 1
    assert {_raw(client, record_id)["redriveCount"] for record_id in ids[:7]} == {2}
    assert not client.collection(COLLECTION).document("missing").get().exists
    assert store.update_many([]) == {}


# -- open_records, due -----------------------------------------------------------------------


def test_open_records_are_the_pending_and_abandoned_records_of_the_sessions(
    store: FirestoreFailureStore,
) -> None:
    a, b, c = SessionKey("u1", "a"), SessionKey("u1", "b"), SessionKey("u2", "c")
    records = {
        "a-pending": _record("a-pending", session_id="a"),
        "a-abandoned": _record("a-abandoned", session_id="a", status=FailureStatus.ABANDONED),
        "a-invalid": _record("a-invalid", session_id="a", status=FailureStatus.INVALID),
        "a-resolved": _record("a-resolved", session_id="a", status=FailureStatus.RESOLVED),
        "b-pending": _record("b-pending", session_id="b"),
        "c-pending": _record("c-pending", user_id="u2", session_id="c"),
        "u2-a-pending": _record("u2-a-pending", user_id="u2", session_id="a"),
    }
    for record in records.values():
        store.create(record)

    found = store.open_records([a, b, a])

    assert sorted(record.event_id for record in found) == ["a-abandoned", "a-pending", "b-pending"]
    for record in found:
        assert record == _get(store, record.record_id)
    assert [record.event_id for record in store.open_records([c])] == ["c-pending"]
    assert store.open_records([SessionKey("u1", "none")]) == []
    assert store.open_records([]) == []


def test_open_records_cover_more_sessions_than_one_in_filter_takes(
    store: FirestoreFailureStore,
) -> None:
    keys = [SessionKey("u1", f"s{n:02d}") for n in range(45)]  # 30 per `in` filter
    for key in keys:
        store.create(_record(f"ev-{key.session_id}", session_id=key.session_id))

    found = store.open_records(keys)

    assert sorted(record.session_id for record in found) == [key.session_id for key in keys]


def test_due_lists_abandoned_by_redrive_time_then_stuck_pending_by_update_time(
    store: FirestoreFailureStore,
) -> None:
    now = T0 + timedelta(minutes=10)

    def abandoned(event_id: str, next_redrive_at: datetime | None) -> FailureRecord:
        record = store.create(_record(event_id, status=FailureStatus.ABANDONED))
        change = RecordChange(next_redrive_at=next_redrive_at, unschedule=next_redrive_at is None)
        store.update(record.record_id, change, expected=record.version)
        return record

    abandoned("late", T0 + timedelta(minutes=2))
    abandoned("early", T0 + timedelta(minutes=1))
    abandoned("exactly-now", now)
    abandoned("not-yet", now + timedelta(seconds=1))
    final = abandoned("final", None)
    store.update(final.record_id, RecordChange(stamps=(Stamp.FINAL,)), expected=None)
    resolved = store.create(_record("resolved", status=FailureStatus.RESOLVED))
    store.update(resolved.record_id, RecordChange(next_redrive_at=T0), expected=None)
    pending_first = store.create(_record("pending-first"))
    store.create(_record("pending-second"))
    # pending-first moves last: pending ones come by their last update.
    store.update(pending_first.record_id, RecordChange(retry_count=1), expected=None)
    time.sleep(0.1)
    stuck_before = datetime.now(UTC)
    time.sleep(0.1)
    store.create(_record("pending-fresh"))
    store.create(_record("invalid", status=FailureStatus.INVALID))

    def due(limit: int) -> list[str]:
        return [r.event_id for r in store.due(now=now, stuck_before=stuck_before, limit=limit)]

    assert due(100) == ["early", "late", "exactly-now", "pending-second", "pending-first"]
    assert due(4) == ["early", "late", "exactly-now", "pending-second"]
    assert due(2) == ["early", "late"]
    assert due(0) == []
    [record] = store.due(now=now, stuck_before=stuck_before, limit=1)
    assert record == _get(store, record.record_id)


def test_due_pages_through_more_records_than_one_page(
    store: FirestoreFailureStore, client: CountingClient
) -> None:
    count = PAGE_SIZE + 2
    for start in range(0, count, MAX_BATCH_WRITES):
        batch = client.batch()
        for n in range(start, min(start + MAX_BATCH_WRITES, count)):
            batch.set(
                client.collection(COLLECTION).document(f"r{n:04d}"),
                {
                    "status": "abandoned",
                    "eventId": f"ev-{n}",
                    "nextRedriveAt": T0 + timedelta(seconds=n),
                },
            )
        batch.commit()

    due = [
        record.record_id
        for record in store.due(now=T0 + timedelta(days=1), stuck_before=T0, limit=count - 1)
    ]

    assert due == [f"r{n:04d}" for n in range(count - 1)]


# -- the redrive's state ---------------------------------------------------------------------


def test_the_redrive_state_is_fresh_until_saved_and_reads_back_as_saved(
    store: FirestoreFailureStore, client: CountingClient
) -> None:
    assert store.redrive_state() == RedriveState()

    store.save_redrive_state(RedriveState(failed_rounds=3, next_round_at=T0, last_error="e" * 2000))

    assert store.redrive_state() == RedriveState(3, T0, "e" * 1500)
    raw = client.collection(STATE_COLLECTION).document(STATE_DOCUMENT).get().to_dict()
    assert raw is not None and _near_now(raw.pop("updatedAt"))
    assert raw == {"failedRounds": 3, "nextRoundAt": T0, "lastError": "e" * 1500}
    store.save_redrive_state(RedriveState())
    assert store.redrive_state() == RedriveState()


# -- list ------------------------------------------------------------------------------------


def test_list_streams_newest_first_by_status_and_since(store: FirestoreFailureStore) -> None:
    created = [store.create(_record(f"ev-{n}", session_id=f"s{n}")) for n in range(4)]
    for record, status in ((created[1], FailureStatus.ABANDONED), (created[2], "invalid")):
        change = RecordChange(status=FailureStatus(status))
        store.update(record.record_id, change, expected=record.version)
    stored = [_get(store, record.record_id) for record in created]

    def events(records: Iterator[FailureRecord]) -> list[str]:
        return [record.event_id for record in records]

    newest_first = sorted(stored, key=lambda r: (r.created_at, r.record_id), reverse=True)
    assert events(store.list()) == [r.event_id for r in newest_first]
    assert events(store.list(status=FailureStatus.PENDING)) == [
        r.event_id for r in newest_first if r.event_id in ("ev-0", "ev-3")
    ]
    assert events(store.list(status=FailureStatus.ABANDONED)) == ["ev-1"]
    assert events(store.list(status=FailureStatus.RESOLVED)) == []
    since = stored[2].created_at
    assert since is not None
    assert events(store.list(since=since)) == [
        r.event_id for r in newest_first if r.created_at and r.created_at >= since
    ]
    assert events(store.list(status=FailureStatus.INVALID, since=since)) == ["ev-2"]
    assert events(store.list(since=datetime.now(UTC) + timedelta(minutes=1))) == []
    assert list(store.list()) == newest_first


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
