"""The shared sync use case against fakes at the ports."""

from __future__ import annotations

from shared.contract import SessionCompleted
from shared.errors import PermanentError, TransientError
from shared.model import FailureRecord, FailureStatus, SessionKey, episode_id
from shared.sync import Outcome, sync_sessions
from tests.unit.documents import full_document
from tests.unit.fakes import World


def completed_session(world: World, user: str = "u1", session: str = "s1") -> SessionCompleted:
    document = full_document()
    document["sessionId"] = session
    world.sessions.put(user, session, document)
    return SessionCompleted(user, session, f"evt-{user}-{session}")


def test_synced_row_status_and_event_id() -> None:
    world = World()
    message = completed_session(world)
    [result] = sync_sessions([message], world.ports)
    assert result.outcome is Outcome.SYNCED
    assert [insert_id for insert_id, _ in world.sink.rows] == [message.event_id]
    document = world.sessions.documents[SessionKey("u1", "s1")]
    assert document["bigquerySyncStatus"] == "synced"
    assert document["bigquerySyncEventId"] == message.event_id
    assert document["bigquerySyncError"] is None


def test_a_batch_is_one_insert_and_one_status_write() -> None:
    world = World()
    messages = [completed_session(world, session=f"s{i}") for i in range(50)]
    results = sync_sessions(messages, world.ports)
    assert {r.outcome for r in results} == {Outcome.SYNCED}
    assert world.sink.requests == 1
    assert world.sessions.batched_writes == 1
    assert len(world.sink.rows) == 50


def test_redelivered_event_is_skipped_without_writes() -> None:
    world = World()
    message = completed_session(world)
    sync_sessions([message], world.ports)
    [again] = sync_sessions([message], world.ports)
    assert again.outcome is Outcome.ALREADY_SYNCED
    assert len(world.sink.rows) == 1


def test_duplicate_in_one_batch_inserts_once() -> None:
    world = World()
    message = completed_session(world)
    results = sync_sessions([message, message], world.ports)
    assert [r.outcome for r in results] == [Outcome.SYNCED, Outcome.SYNCED]
    assert len(world.sink.rows) == 1


def test_new_event_for_the_same_session_writes_a_new_version() -> None:
    world = World()
    first = completed_session(world)
    sync_sessions([first], world.ports)
    replay = SessionCompleted("u1", "s1", "replay-1", "replay")
    [result] = sync_sessions([replay], world.ports)
    assert result.outcome is Outcome.SYNCED
    assert [insert_id for insert_id, _ in world.sink.rows] == [first.event_id, "replay-1"]


def test_deleted_session_is_invalid_with_a_record_and_no_status_write() -> None:
    world = World()
    message = SessionCompleted("u1", "gone", "evt-1")
    [result] = sync_sessions([message], world.ports)
    assert result.outcome is Outcome.INVALID
    record = world.failures.records[episode_id("evt-1")]
    assert record.status is FailureStatus.INVALID
    assert record.failure_reason == "session deleted"
    assert world.sink.rows == []


def test_not_completed_session_is_invalid() -> None:
    world = World()
    message = completed_session(world)
    world.sessions.documents[SessionKey("u1", "s1")]["status"] = "active"
    [result] = sync_sessions([message], world.ports)
    assert result.outcome is Outcome.INVALID
    assert world.sessions.documents[SessionKey("u1", "s1")]["bigquerySyncStatus"] == "invalid"


def test_invalid_document_names_the_field_and_inserts_nothing() -> None:
    world = World()
    message = completed_session(world)
    world.sessions.documents[SessionKey("u1", "s1")]["repCount"] = "many"
    [result] = sync_sessions([message], world.ports)
    assert result.outcome is Outcome.INVALID
    assert result.error is not None and "repCount" in result.error
    assert world.sink.rows == []
    document = world.sessions.documents[SessionKey("u1", "s1")]
    assert "repCount" in document["bigquerySyncError"]


def test_insert_outage_is_failed_and_writes_nothing() -> None:
    world = World()
    message = completed_session(world)
    world.sink.outage.down = True
    [result] = sync_sessions([message], world.ports)
    assert result.outcome is Outcome.FAILED
    assert "bigquerySyncStatus" not in world.sessions.documents[SessionKey("u1", "s1")]
    assert world.failures.records == {}


def test_per_row_errors_are_classified() -> None:
    world = World()
    good, bad, flaky = (completed_session(world, session=s) for s in ("a", "b", "c"))
    world.sink.row_errors = {
        bad.event_id: PermanentError("invalid"),
        flaky.event_id: TransientError("backendError"),
    }
    outcomes = [r.outcome for r in sync_sessions([good, bad, flaky], world.ports)]
    assert outcomes == [Outcome.SYNCED, Outcome.INVALID, Outcome.FAILED]


def test_firestore_read_outage_fails_the_batch() -> None:
    world = World()
    message = completed_session(world)
    world.sessions.outage.down = True
    [result] = sync_sessions([message], world.ports)
    assert result.outcome is Outcome.FAILED


def test_sync_resolves_open_records_of_the_session() -> None:
    world = World()
    completed_session(world)
    world.sessions.documents[SessionKey("u1", "s1")]["bigquerySyncStatus"] = "abandoned"
    old = FailureRecord("old", "u1", "s1", "evt-old", "outage", FailureStatus.ABANDONED)
    world.failures.create(old)
    sync_sessions([SessionCompleted("u1", "s1", "replay-2", "replay")], world.ports)
    assert world.failures.records["old"].status is FailureStatus.RESOLVED
