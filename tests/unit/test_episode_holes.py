"""One regression test per hole through which a session could be left without a way forward.

Each test drives the workers' handlers over fakes that fail the way production
fails: task names tombstoned after their task ended, closed failure records,
whole insertAll requests rejected, a write that errors on the last attempt,
and scripted interleavings of two workers on one session.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from google.api_core import exceptions as gexc

from retry_worker.handler import TaskAttempt, handle_retry
from shared.contract import SessionCompleted
from shared.errors import PermanentError
from shared.gcp.bigquery_sink import BigQueryRowSink
from shared.model import FailureStatus, RetryTask, SessionKey, episode_id
from shared.pseudonym import Pseudonymizer
from shared.rows import session_row
from shared.sync import Outcome, sync_sessions
from sync_worker.handler import Delivery, Handled, WorkerPorts, handle_deliveries
from tests.unit.documents import SALT, SYNCED_AT, full_document
from tests.unit.fakes import World

KEY = SessionKey("u1", "s1")


def completed_world() -> World:
    world = World()
    world.sessions.put(*KEY, full_document())
    return world


def session_document(session_id: str) -> dict[str, Any]:
    return {**full_document(), "sessionId": session_id}


def deliver(world: World, *messages: SessionCompleted) -> list[Handled]:
    deliveries = [Delivery(*m.encode(), f"m-{m.event_id}") for m in messages]
    return handle_deliveries(deliveries, WorkerPorts(world.ports, world.queue))


def run_task(world: World, task: RetryTask, retry_count: int) -> int:
    """Dispatch a live task as Cloud Tasks would; it ends (and its name stays used) on 2xx."""
    reply = handle_retry(TaskAttempt(task, retry_count), world.ports, max_retries=10)
    if reply.status < 300:
        world.queue.finish(task)
    return reply.status


def exhaust(world: World, task: RetryTask) -> None:
    """Every dispatch of the task fails until Cloud Tasks gives up after its last attempt."""
    for retry_count in range(10):
        run_task(world, task, retry_count)
    world.queue.finish(task)


def status(world: World) -> Any:
    return world.sessions.documents[KEY].get("bigquerySyncStatus")


def record(world: World, event_id: str) -> Any:
    return world.failures.records[episode_id(event_id)]


# Hole 1: an outage longer than the ten retries must heal once BigQuery is back.
def test_hole1_outage_longer_than_the_retry_budget_heals_without_an_operator() -> None:
    world = completed_world()
    message = SessionCompleted(*KEY, "evt-1")
    world.sink.outage.down = True
    assert deliver(world, message) == [Handled(True, "retry_enqueued")]
    [task] = world.queue.live_tasks()
    exhaust(world, task)
    assert status(world) == "abandoned"
    world.sink.outage.down = False
    world.clock.advance(timedelta(minutes=30))
    world.redrive_and_deliver()
    assert status(world) == "synced"
    assert record(world, "evt-1").status is FailureStatus.RESOLVED
    assert [insert_id for insert_id, _ in world.sink.rows] == ["evt-1"]


# Hole 2: a redelivered event whose episode is closed must get a live retry, not a tombstone.
def test_hole2_redelivery_after_the_episode_closed_gets_a_new_live_task() -> None:
    world = completed_world()
    message = SessionCompleted(*KEY, "evt-1")
    world.sink.outage.down = True
    deliver(world, message)
    [first] = world.queue.live_tasks()
    exhaust(world, first)
    assert record(world, "evt-1").status is FailureStatus.ABANDONED
    # A subscription seek redelivers the event while BigQuery still fails.
    assert deliver(world, message) == [Handled(True, "retry_enqueued")]
    [second] = world.queue.live_tasks()
    assert second.event_id == "evt-1" and second.name != first.name
    assert record(world, "evt-1").status is FailureStatus.PENDING
    world.sink.outage.down = False
    assert run_task(world, second, 0) == 200
    assert status(world) == "synced"
    assert record(world, "evt-1").status is FailureStatus.RESOLVED


# Hole 3: when recording fails on the last attempt, the stuck episode still ends abandoned
# (with its alert) and then heals.
def test_hole3_last_attempt_that_cannot_record_is_abandoned_then_healed(
    caplog_json: list[dict[str, Any]],
) -> None:
    world = completed_world()
    message = SessionCompleted(*KEY, "evt-1")
    world.sink.outage.down = True
    deliver(world, message)
    [task] = world.queue.live_tasks()
    for retry_count in range(9):
        assert run_task(world, task, retry_count) == 503
    world.failures.outage.down = True
    assert run_task(world, task, 9) == 503  # Cloud Tasks gives up after this attempt
    world.queue.finish(task)
    world.failures.outage.down = False
    assert record(world, "evt-1").status is FailureStatus.PENDING
    world.clock.advance(timedelta(hours=1))
    world.sink.outage.down = True
    world.redrive_and_deliver()
    assert record(world, "evt-1").status is FailureStatus.ABANDONED
    assert status(world) == "abandoned"
    assert any(line.get("message") == "sync_abandoned" for line in caplog_json)
    world.sink.outage.down = False
    world.clock.advance(timedelta(hours=1))
    world.redrive_and_deliver()
    assert status(world) == "synced"
    assert record(world, "evt-1").status is FailureStatus.RESOLVED


class RejectingClient:
    """A BigQuery client whose insertAll rejects a whole request as BigQuery does (HTTP 400)."""

    def __init__(
        self, *, poison: str = "", max_bytes: int = 10 * 1024 * 1024, reject_all: bool = False
    ) -> None:
        self.poison = poison
        self.max_bytes = max_bytes
        self.reject_all = reject_all
        self.stored: list[str] = []
        self.request_sizes: list[tuple[int, int]] = []

    def insert_rows_json(self, table: str, rows: list[dict[str, Any]], **kwargs: Any) -> list[Any]:
        import json

        size = len(json.dumps({"rows": [{"json": row} for row in rows]}))
        self.request_sizes.append((len(rows), size))
        if size > self.max_bytes:
            raise gexc.BadRequest("Request payload size exceeds the limit: 10485760 bytes.")
        if self.reject_all or any(row["session_id"] == self.poison for row in rows):
            raise gexc.BadRequest("Invalid value at 'rows[3].json'")
        self.stored.extend(kwargs["row_ids"])
        return []


def rows(count: int, *, warning_bytes: int = 0) -> dict[str, dict[str, Any]]:
    pseudonymizer = Pseudonymizer(SALT)
    built = {}
    for index in range(count):
        document = session_document(f"s{index}")
        if warning_bytes:
            document["formFeedback"]["warnings"] = ["w" * 8000] * (warning_bytes // 8000)
        built[f"evt-{index}"] = session_row(
            "u1", f"s{index}", document, pseudonymizer=pseudonymizer, synced_at=SYNCED_AT
        )
    return built


# Hole 4: a request-level rejection is bisected to the offending row; requests stay under
# insertAll's limits.
def test_hole4_a_rejected_request_is_bisected_to_the_offending_row() -> None:
    client = RejectingClient(poison="s6")
    errors = BigQueryRowSink(client, "p.d.sessions").insert(rows(10))
    assert list(errors) == ["evt-6"]
    assert isinstance(errors["evt-6"], PermanentError)
    assert sorted(client.stored) == sorted(f"evt-{i}" for i in range(10) if i != 6)


def test_hole4_requests_stay_under_ten_megabytes() -> None:
    client = RejectingClient()
    errors = BigQueryRowSink(client, "p.d.sessions").insert(rows(30, warning_bytes=480_000))
    assert errors == {}
    assert len(client.stored) == 30
    assert all(size < 10 * 1024 * 1024 and count <= 50_000 for count, size in client.request_sizes)


def test_hole4_a_whole_request_failure_never_marks_rows_invalid() -> None:
    world = World()
    messages = []
    for index in range(3):
        world.sessions.put("u1", f"s{index}", session_document(f"s{index}"))
        messages.append(SessionCompleted("u1", f"s{index}", f"evt-{index}"))
    sink = BigQueryRowSink(RejectingClient(reject_all=True), "p.d.sessions")
    results = sync_sessions(messages, dataclasses.replace(world.ports, sink=sink))
    assert {result.outcome for result in results} == {Outcome.FAILED}
    assert all(r.status is not FailureStatus.INVALID for r in world.failures.records.values())


# Hole 5: a sync must not resolve the episode of a newer completion whose data it did not read.
def test_hole5_a_sync_leaves_the_episode_of_a_newer_completion_open() -> None:
    world = completed_world()
    old = SessionCompleted(*KEY, "evt-old")
    new = SessionCompleted(*KEY, "evt-new")

    def recompleted_during_the_insert() -> None:
        world.sessions.edit(KEY, repCount=31)  # the app completes the session again
        world.sink.outage.down = True
        assert deliver(world, new) == [Handled(True, "retry_enqueued")]
        world.sink.outage.down = False

    world.sink.during_next_insert(recompleted_during_the_insert)
    deliver(world, old)
    assert record(world, "evt-new").status is FailureStatus.PENDING
    assert status(world) == "failed"
    assert any(task.event_id == "evt-new" for task in world.queue.live_tasks())
    for task in world.queue.live_tasks():
        run_task(world, task, 0)
    assert status(world) == "synced"
    assert world.sessions.documents[KEY]["bigquerySyncEventId"] in ("evt-new", "evt-old")
    last_row = world.sink.rows[-1][1]
    assert last_row["rep_count"] == 31


# Hole 6: a stale redelivery or a late retry never moves a session from synced back.
def test_hole6_a_stale_redelivery_that_fails_leaves_the_session_synced() -> None:
    world = completed_world()
    deliver(world, SessionCompleted(*KEY, "evt-2"))
    assert status(world) == "synced"
    world.sink.outage.down = True
    deliver(world, SessionCompleted(*KEY, "evt-1"))  # an older event of the same version
    assert status(world) == "synced"
    assert world.queue.live_tasks() == []


def test_hole6_a_late_last_retry_does_not_abandon_a_session_synced_meanwhile() -> None:
    world = completed_world()
    message = SessionCompleted(*KEY, "evt-1")
    world.sink.outage.down = True
    deliver(world, message)
    [task] = world.queue.live_tasks()
    for retry_count in range(9):
        run_task(world, task, retry_count)

    def another_event_syncs_meanwhile() -> None:
        world.sink.outage.down = False
        assert deliver(world, SessionCompleted(*KEY, "evt-2")) == [Handled(True, "synced")]
        world.sink.outage.down = True

    world.sink.during_next_insert(another_event_syncs_meanwhile)
    assert run_task(world, task, 9) == 200
    assert status(world) == "synced"
    assert record(world, "evt-1").status is FailureStatus.RESOLVED


# Hole 7: a permanent error while recording one outcome fails neither the batch nor the promise.
def test_hole7_a_permanent_error_while_recording_does_not_fail_the_batch() -> None:
    world = World()
    messages = []
    for index in range(3):
        world.sessions.put("u1", f"s{index}", session_document(f"s{index}"))
        messages.append(SessionCompleted("u1", f"s{index}", f"evt-{index}"))
    world.sessions.reject_status_writes.add(SessionKey("u1", "s1"))
    handled = deliver(world, *messages)
    assert [item.ack for item in handled] == [True, True, True]
    deliver(world, messages[0], messages[2])  # a redelivery inserts nothing again
    assert sorted(insert_id for insert_id, _ in world.sink.rows) == ["evt-0", "evt-1", "evt-2"]


# Hole 8: reconcile reports a completed invalid document that nothing recorded.
def test_hole8_reconcile_reports_an_unrecorded_invalid_session() -> None:
    from shared.reconcile import (
        INCONSISTENT,
        REPAIRABLE,
        Finding,
        FirestoreEntry,
        Freshness,
        compare,
    )

    def entry(sync_status: str | None) -> FirestoreEntry:
        return FirestoreEntry("h" * 64, "s1", "u1", None, sync_status, updated=1.0)

    freshness = Freshness(started=10_000.0, grace=120.0)
    [unrecorded] = compare([entry(None)], [], freshness=freshness)
    [recorded] = compare([entry("invalid")], [], freshness=freshness)
    assert unrecorded.finding in INCONSISTENT and unrecorded.finding in REPAIRABLE
    assert recorded.finding is Finding.INVALID
