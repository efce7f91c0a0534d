"""`FirestoreSessionStore` against the Firestore emulator: reads, conditional status writes, paging.

Each test works in a database of its own: the running pipeline's trigger listens to
the `(default)` database only, so nothing reacts to these session documents, and a
collection-group query sees this test's documents alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from shared.gcp.firestore_sessions import MAX_BATCH_WRITES, FirestoreSessionStore, status_fields
from shared.model import (
    SessionKey,
    SessionSnapshot,
    StatusUpdate,
    StatusWrite,
    SyncStatus,
    WriteResult,
)
from tests.integration.counting_firestore import CountingClient

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(client: CountingClient) -> FirestoreSessionStore:
    return FirestoreSessionStore(client, timeout=5)


def _put(client: firestore.Client, path: str, data: dict[str, Any]) -> datetime:
    update_time: datetime = client.document(path).set(data).update_time
    return update_time


def _data(client: firestore.Client, key: SessionKey) -> dict[str, Any] | None:
    return client.document(key.path).get().to_dict()


def test_get_many_reads_every_key_in_one_batch_get(
    store: FirestoreSessionStore, client: CountingClient
) -> None:
    keys = [SessionKey("u1", f"s{n}") for n in range(3)]
    data = {"status": "completed", "startTime": T0, "formFeedback": {"w": [1]}}
    times = {key: _put(client, key.path, {**data, "n": n}) for n, key in enumerate(keys)}
    absent = SessionKey("u1", "absent")

    found = store.get_many([keys[2], absent, keys[0], keys[1], keys[0]])

    assert client.batch_gets == [4]  # one BatchGetDocuments for the 4 distinct documents
    assert found == {
        **{key: SessionSnapshot(key, {**data, "n": n}, times[key]) for n, key in enumerate(keys)},
        absent: None,
    }
    for key in keys:
        snapshot = found[key]
        assert snapshot is not None and snapshot.update_time is not None
        assert snapshot.update_time.tzinfo is not None
    assert store.get_many([]) == {}
    assert client.batch_gets == [4]


def _write(key: SessionKey, update: StatusUpdate, expected: datetime | None) -> StatusWrite:
    return StatusWrite(key, update, expected)


def test_a_write_at_the_version_read_sets_only_the_sync_fields(
    store: FirestoreSessionStore, client: CountingClient
) -> None:
    key = SessionKey("u1", "s1")
    original = {"status": "completed", "startTime": T0, "bigquerySyncError": "old"}
    version = _put(client, key.path, original)
    synced = StatusUpdate(SyncStatus.SYNCED, event_id="ev-1", retry_count=2, fingerprint="f" * 32)

    [(written_key, result)] = store.write_statuses([_write(key, synced, version)]).items()

    after = client.document(key.path).get()
    assert written_key == key
    assert result == WriteResult(committed_at=after.update_time)
    assert not result.stale and result.committed_at is not None and result.committed_at > version
    fields = after.to_dict() or {}
    # Firestore stamps the commit time; the emulator's stamp is in milliseconds and a few
    # milliseconds before the version it reports.
    synced_at = fields.pop("bigquerySyncedAt")
    assert result.committed_at - timedelta(seconds=1) <= synced_at <= result.committed_at
    assert fields == {
        "status": "completed",
        "startTime": T0,
        "bigquerySyncStatus": "synced",
        "bigquerySyncEventId": "ev-1",
        "bigquerySyncFingerprint": "f" * 32,
        "bigquerySyncError": None,
        "bigquerySyncRetryCount": 2,
    }

    # The commit time is the new version: the next writer that read it goes through.
    failed = StatusUpdate(SyncStatus.FAILED, error="x" * 2000)
    again = store.write_statuses([_write(key, failed, result.committed_at)])[key]

    assert again.committed_at is not None and again.committed_at > result.committed_at
    assert _data(client, key) == {
        **fields,
        "bigquerySyncedAt": synced_at,
        "bigquerySyncStatus": "failed",
        "bigquerySyncError": "x" * 1500,
    }


def test_a_stale_write_changes_nothing(
    store: FirestoreSessionStore, client: CountingClient
) -> None:
    key = SessionKey("u1", "s1")
    read_at = _put(client, key.path, {"status": "completed", "repCount": 1})
    changed_at = client.document(key.path).update({"repCount": 2}).update_time  # the app wrote

    result = store.write_statuses(
        [_write(key, StatusUpdate(SyncStatus.SYNCED, event_id="ev-1"), read_at)]
    )

    assert result == {key: WriteResult()}
    assert result[key].stale
    after = client.document(key.path).get()
    assert after.to_dict() == {"status": "completed", "repCount": 2}
    assert after.update_time == changed_at


def test_a_deleted_session_is_stale_and_stays_deleted(
    store: FirestoreSessionStore, client: CountingClient
) -> None:
    key, never = SessionKey("u1", "deleted"), SessionKey("u1", "never-written")
    read_at = _put(client, key.path, {"status": "completed"})
    client.document(key.path).delete()
    failed = StatusUpdate(SyncStatus.FAILED, error="timeout", retry_count=1)

    results = store.write_statuses([_write(key, failed, read_at), _write(never, failed, None)])

    assert results == {key: WriteResult(), never: WriteResult()}
    assert not client.document(key.path).get().exists
    assert not client.document(never.path).get().exists


def test_a_write_without_an_expected_version_applies_to_any_version(
    store: FirestoreSessionStore, client: CountingClient
) -> None:
    key = SessionKey("u1", "s1")
    _put(client, key.path, {"status": "completed"})
    client.document(key.path).update({"repCount": 3})

    result = store.write_statuses([_write(key, StatusUpdate(SyncStatus.ABANDONED), None)])[key]

    assert result.committed_at == client.document(key.path).get().update_time
    assert _data(client, key) == {
        "status": "completed",
        "repCount": 3,
        "bigquerySyncStatus": "abandoned",
    }


# Firestore refuses a document over 1 MiB (1,048,576 bytes, names and values counted):
# a session this close to the limit cannot take the sync fields any more.
NEAR_LIMIT_CHARS = 1_048_000


def test_a_refused_write_is_reported_and_the_others_of_its_batch_apply(
    store: FirestoreSessionStore, client: CountingClient
) -> None:
    big, fine, stale = SessionKey("u1", "big"), SessionKey("u1", "fine"), SessionKey("u1", "stale")
    big_at = _put(client, big.path, {"status": "completed", "notes": "n" * NEAR_LIMIT_CHARS})
    fine_at = _put(client, fine.path, {"status": "completed"})
    stale_at = _put(client, stale.path, {"status": "completed"})
    client.document(stale.path).update({"repCount": 1})
    failed = StatusUpdate(SyncStatus.FAILED, error="e" * 1500, retry_count=1)

    results = store.write_statuses(
        [
            _write(fine, failed, fine_at),
            _write(big, failed, big_at),
            _write(stale, failed, stale_at),
        ]
    )

    rejected = results[big].rejected
    assert rejected is not None and rejected.startswith("InvalidArgument: 400")
    assert results[big].committed_at is None and not results[big].stale
    assert results[stale] == WriteResult()
    assert results[fine].committed_at == client.document(fine.path).get().update_time
    assert (_data(client, fine) or {})["bigquerySyncStatus"] == "failed"
    after_big = client.document(big.path).get()
    assert after_big.update_time == big_at
    assert "bigquerySyncStatus" not in (after_big.to_dict() or {})
    assert "bigquerySyncStatus" not in (_data(client, stale) or {})


def test_writes_are_committed_500_per_batch(
    store: FirestoreSessionStore, client: CountingClient
) -> None:
    keys = [SessionKey("u1", f"s{n:03d}") for n in range(MAX_BATCH_WRITES + 1)]
    seed = client.batch()
    for key in keys:
        seed.set(client.document(key.path), {"status": "completed"})
    seeded = {key: result.update_time for key, result in zip(keys, seed.commit(), strict=True)}
    client.write_batches = 0
    updates = {
        key: StatusUpdate(SyncStatus.SYNCED, event_id=f"ev-{key.session_id}") for key in keys
    }

    results = store.write_statuses([_write(key, updates[key], seeded[key]) for key in keys])

    assert client.write_batches == 2  # 500 + 1 writes, no write of its own
    written = {doc.id: doc for doc in client.get_all([client.document(k.path) for k in keys])}
    assert {key: result.committed_at for key, result in results.items()} == {
        key: written[key.session_id].update_time for key in keys
    }
    assert {doc_id: doc.get("bigquerySyncEventId") for doc_id, doc in written.items()} == {
        key.session_id: f"ev-{key.session_id}" for key in keys
    }
    assert store.write_statuses([]) == {}
    assert client.write_batches == 2


def test_one_stale_write_in_a_full_batch_leaves_the_other_499_applied(
    store: FirestoreSessionStore, client: CountingClient
) -> None:
    keys = [SessionKey("u1", f"s{n:03d}") for n in range(MAX_BATCH_WRITES)]
    seed = client.batch()
    for key in keys:
        seed.set(client.document(key.path), {"status": "completed"})
    seeded = {key: result.update_time for key, result in zip(keys, seed.commit(), strict=True)}
    client.document(keys[250].path).update({"repCount": 9})
    invalid = StatusUpdate(SyncStatus.INVALID, error="bad startTime")

    results = store.write_statuses([_write(key, invalid, seeded[key]) for key in keys])

    assert [key for key, result in results.items() if result.stale] == [keys[250]]
    assert all(results[key].committed_at is not None for key in keys if key != keys[250])
    written = {
        doc.id: doc.to_dict() for doc in client.get_all([client.document(k.path) for k in keys])
    }
    assert written.pop(keys[250].session_id) == {"status": "completed", "repCount": 9}
    assert {
        (data["bigquerySyncStatus"], data["bigquerySyncError"]) for data in written.values()
    } == {("invalid", "bad startTime")}
    assert len(written) == MAX_BATCH_WRITES - 1


def test_status_fields_per_status() -> None:
    assert status_fields(
        StatusUpdate(SyncStatus.SYNCED, event_id="ev", error="ignored", fingerprint="fp")
    ) == {
        "bigquerySyncStatus": "synced",
        "bigquerySyncedAt": firestore.SERVER_TIMESTAMP,
        "bigquerySyncEventId": "ev",
        "bigquerySyncFingerprint": "fp",
        "bigquerySyncError": None,
    }
    assert status_fields(StatusUpdate(SyncStatus.FAILED, error="e" * 1600, retry_count=0)) == {
        "bigquerySyncStatus": "failed",
        "bigquerySyncError": "e" * 1500,
        "bigquerySyncRetryCount": 0,
    }
    assert status_fields(StatusUpdate(SyncStatus.ABANDONED)) == {"bigquerySyncStatus": "abandoned"}


# Completed sessions of users, plus documents the collection-group query must not yield.
SESSIONS: dict[str, dict[str, Any]] = {
    "users/alice/sessions/a1": {"status": "completed", "startTime": T0},
    "users/alice/sessions/a2": {"status": "completed", "startTime": T0 + timedelta(hours=1)},
    "users/alice/sessions/a3": {"status": "active", "startTime": T0 + timedelta(hours=1)},
    "users/bob/sessions/b1": {"status": "completed", "startTime": T0},
    "users/bob/sessions/b2": {"status": "completed", "startTime": T0 + timedelta(hours=2)},
    "users/bob/sessions/b3": {"status": "completed", "startTime": T0 - timedelta(seconds=1)},
    "users/carol/sessions/c1": {"status": "completed"},  # no startTime: unranged only
    # Other `sessions` collections: same collection id, not a user's session.
    "coaches/k/sessions/k1": {"status": "completed", "startTime": T0 + timedelta(hours=1)},
    "users/bob/sessions/b1/sessions/n1": {"status": "completed", "startTime": T0},
}


@pytest.fixture
def sessions(client: CountingClient) -> dict[str, datetime]:
    """Write `SESSIONS` into the test's empty database; return each path's update time."""
    return {path: _put(client, path, data) for path, data in SESSIONS.items()}


def _paths(items: Iterable[tuple[SessionSnapshot, str]]) -> list[str]:
    return [snapshot.key.path for snapshot, _ in items]


def test_completed_sessions_pages_through_users_sessions_in_name_order(
    store: FirestoreSessionStore, sessions: dict[str, datetime]
) -> None:
    items = list(store.completed_sessions(page_size=2))

    assert _paths(items) == [
        "users/alice/sessions/a1",
        "users/alice/sessions/a2",
        "users/bob/sessions/b1",
        "users/bob/sessions/b2",
        "users/bob/sessions/b3",
        "users/carol/sessions/c1",
    ]
    for snapshot, _ in items:
        assert snapshot.data == SESSIONS[snapshot.key.path]
        assert snapshot.update_time == sessions[snapshot.key.path]
        assert isinstance(snapshot.update_time, datetime)
    assert _paths(store.completed_sessions(page_size=500)) == _paths(items)


def test_completed_sessions_resumes_right_after_each_cursor(
    store: FirestoreSessionStore, sessions: dict[str, datetime]
) -> None:
    items = list(store.completed_sessions(page_size=2))

    for position, (_, token) in enumerate(items):
        resumed = store.completed_sessions(after=token, page_size=2)
        assert _paths(resumed) == _paths(items[position + 1 :]), f"after item {position}"


def test_completed_sessions_filters_start_time_since_inclusive_until_exclusive(
    store: FirestoreSessionStore, sessions: dict[str, datetime]
) -> None:
    window = {"since": T0, "until": T0 + timedelta(hours=2)}

    items = list(store.completed_sessions(**window, page_size=1))

    expected = ["users/alice/sessions/a1", "users/bob/sessions/b1", "users/alice/sessions/a2"]
    assert _paths(items) == expected  # by startTime, then by name
    for position, (_, token) in enumerate(items):
        resumed = store.completed_sessions(**window, after=token, page_size=1)
        assert _paths(resumed) == expected[position + 1 :], f"after item {position}"
    assert _paths(store.completed_sessions(since=T0 + timedelta(hours=1))) == [
        "users/alice/sessions/a2",
        "users/bob/sessions/b2",
    ]
    assert _paths(store.completed_sessions(until=T0)) == ["users/bob/sessions/b3"]


def test_completed_sessions_rejects_a_token_of_the_other_query_kind(
    store: FirestoreSessionStore, sessions: dict[str, datetime]
) -> None:
    (_, unranged_token), *_ = store.completed_sessions()
    (_, ranged_token), *_ = store.completed_sessions(since=T0)

    with pytest.raises(ValueError, match="startTime range"):
        store.completed_sessions(since=T0, after=unranged_token)
    with pytest.raises(ValueError, match="startTime range"):
        store.completed_sessions(after=ranged_token)
    with pytest.raises(ValueError, match="not a resume token"):
        store.completed_sessions(after="not-a-token")
