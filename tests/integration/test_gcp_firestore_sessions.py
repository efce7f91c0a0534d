"""`FirestoreSessionStore` against the Firestore emulator: reads, status writes, paging.

Each test works in a database of its own: the running pipeline's trigger listens to
the `(default)` database only, so nothing reacts to these session documents, and a
collection-group query sees this test's documents alone.
"""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from cli.local.stack import LocalStack
from shared.gcp import clients
from shared.gcp.firestore_sessions import MAX_BATCH_WRITES, FirestoreSessionStore, status_fields
from shared.model import SessionKey, SessionSnapshot, StatusUpdate, SyncStatus
from shared.settings import Settings

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


class CountingClient(firestore.Client):
    """The real Firestore client, counting the batch reads and write batches it starts."""

    def __init__(self, project: str, database: str) -> None:
        super().__init__(project=project, database=database)
        self.batch_gets: list[int] = []
        self.write_batches = 0

    def get_all(self, references: Any, *args: Any, **kwargs: Any) -> Any:
        references = list(references)
        self.batch_gets.append(len(references))
        return super().get_all(references, *args, **kwargs)

    def batch(self) -> Any:
        self.write_batches += 1
        return super().batch()


@pytest.fixture
def client(local_stack: LocalStack, local_settings: Settings) -> Iterator[CountingClient]:
    """A client of a fresh database on the emulator, dropped after the test."""
    clients.firestore_client(local_settings)  # points the Firestore library at the emulator
    database = f"adapters-{uuid.uuid4().hex[:12]}"
    yield CountingClient(local_settings.project, database)
    url = (
        f"http://{local_settings.firestore_emulator_host}/emulator/v1/projects/"
        f"{local_settings.project}/databases/{database}/documents"
    )
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10):
        pass


@pytest.fixture
def store(client: CountingClient) -> FirestoreSessionStore:
    return FirestoreSessionStore(client, timeout=5)


def _put(client: firestore.Client, path: str, data: dict[str, Any]) -> datetime:
    update_time: datetime = client.document(path).set(data).update_time
    return update_time


def _data(client: firestore.Client, key: SessionKey) -> dict[str, Any] | None:
    return client.document(key.path).get().to_dict()


def test_get_returns_the_document_and_its_update_time(
    store: FirestoreSessionStore, client: CountingClient
) -> None:
    key = SessionKey("u1", "s1")
    data = {"status": "completed", "startTime": T0, "repCount": 0, "formFeedback": {"w": [1]}}
    written_at = _put(client, key.path, data)

    snapshot = store.get(key)

    assert snapshot == SessionSnapshot(key, data, written_at)
    assert snapshot.update_time is not None and snapshot.update_time.tzinfo is not None
    assert store.get(SessionKey("u1", "absent")) is None


def test_get_many_reads_every_key_in_one_batch_get(
    store: FirestoreSessionStore, client: CountingClient
) -> None:
    keys = [SessionKey("u1", f"s{n}") for n in range(3)]
    times = {
        key: _put(client, key.path, {"status": "completed", "n": n}) for n, key in enumerate(keys)
    }
    absent = SessionKey("u1", "absent")

    found = store.get_many([keys[2], absent, keys[0], keys[1], keys[0]])

    assert client.batch_gets == [4]  # one BatchGetDocuments for the 4 distinct documents
    assert found == {
        **{
            key: SessionSnapshot(key, {"status": "completed", "n": n}, times[key])
            for n, key in enumerate(keys)
        },
        absent: None,
    }
    assert store.get_many([]) == {}
    assert client.batch_gets == [4]


def test_update_status_writes_only_the_sync_fields(
    store: FirestoreSessionStore, client: CountingClient
) -> None:
    key = SessionKey("u1", "s1")
    original = {"status": "completed", "startTime": T0, "bigquerySyncError": "old"}
    _put(client, key.path, original)
    before = datetime.now(UTC)

    store.update_status(key, StatusUpdate(SyncStatus.SYNCED, event_id="ev-1", retry_count=2))
    synced = _data(client, key)
    store.update_status(key, StatusUpdate(SyncStatus.FAILED, error="x" * 2000))
    failed = _data(client, key)

    assert synced is not None and failed is not None
    synced_at = synced.pop("bigquerySyncedAt")
    assert before - timedelta(seconds=5) <= synced_at <= datetime.now(UTC) + timedelta(seconds=5)
    assert synced == {
        "status": "completed",
        "startTime": T0,
        "bigquerySyncStatus": "synced",
        "bigquerySyncEventId": "ev-1",
        "bigquerySyncError": None,
        "bigquerySyncRetryCount": 2,
    }
    assert failed == {
        **synced,
        "bigquerySyncedAt": synced_at,
        "bigquerySyncStatus": "failed",
        "bigquerySyncError": "x" * 1500,
    }


def test_update_status_leaves_a_deleted_session_deleted(
    store: FirestoreSessionStore, client: CountingClient
) -> None:
    key = SessionKey("u1", "deleted")

    store.update_status(key, StatusUpdate(SyncStatus.INVALID, error="session deleted"))

    assert not client.document(key.path).get().exists


def test_update_statuses_commits_in_batches_and_skips_a_deleted_session(
    store: FirestoreSessionStore, client: CountingClient
) -> None:
    keys = [SessionKey("u1", f"s{n:03d}") for n in range(MAX_BATCH_WRITES + 1)]
    seed = client.batch()
    for key in keys:
        seed.set(client.document(key.path), {"status": "completed"})
    seed.commit()
    client.write_batches = 0

    store.update_statuses(
        [(key, StatusUpdate(SyncStatus.SYNCED, event_id=f"ev-{key.session_id}")) for key in keys]
    )

    assert client.write_batches == 2  # 500 + 1 writes
    written = client.get_all([client.document(key.path) for key in keys])
    assert {doc.id: doc.get("bigquerySyncEventId") for doc in written} == {
        key.session_id: f"ev-{key.session_id}" for key in keys
    }

    deleted = SessionKey("u1", "deleted")
    updates = [
        (keys[0], StatusUpdate(SyncStatus.INVALID, error="bad startTime")),
        (deleted, StatusUpdate(SyncStatus.FAILED, error="timeout", retry_count=1)),
        (keys[1], StatusUpdate(SyncStatus.FAILED, error="timeout", retry_count=3)),
    ]
    store.update_statuses(updates)

    assert not client.document(deleted.path).get().exists
    first, second = _data(client, keys[0]), _data(client, keys[1])
    assert first is not None and second is not None
    assert (first["bigquerySyncStatus"], first["bigquerySyncError"]) == ("invalid", "bad startTime")
    assert (second["bigquerySyncStatus"], second["bigquerySyncRetryCount"]) == ("failed", 3)
    store.update_statuses([])


def test_status_fields_per_status() -> None:
    assert status_fields(StatusUpdate(SyncStatus.SYNCED, event_id="ev", error="ignored")) == {
        "bigquerySyncStatus": "synced",
        "bigquerySyncedAt": firestore.SERVER_TIMESTAMP,
        "bigquerySyncEventId": "ev",
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
