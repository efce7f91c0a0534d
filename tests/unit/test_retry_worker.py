"""Retry worker: attempt accounting, resolve, abandon, invalid, against fakes.

These check the Cloud Tasks contract (headers, 503 to retry, 200 to stop) that
the emulator does not fully honour; the e2e tests check behaviour on the emulator.
"""

from __future__ import annotations

import json

import pytest

from retry_worker.bootstrap import build_task_endpoint
from retry_worker.handler import TaskAttempt, handle_retry
from retry_worker.task import BadTask, parse_task
from shared.auth import AllowAll
from shared.contract import SessionCompleted
from shared.episodes import failure_record
from shared.model import FailureStatus, RetryTask, SessionKey, episode_id
from shared.queue_policy import QueuePolicy
from shared.settings import load_settings
from tests.unit.documents import full_document
from tests.unit.fakes import World

TASK = RetryTask("u1", "s1", "evt-1", "sessions")
SETTINGS = load_settings({"PIPELINE_MODE": "local"})
RECORD_ID = episode_id("evt-1")


def failed_world() -> World:
    world = World()
    world.sessions.put("u1", "s1", full_document())
    message = SessionCompleted("u1", "s1", "evt-1")
    world.failures.create(failure_record(message, "outage", "sessions"))
    return world


def attempt(world: World, retry_count: int) -> tuple[int, str]:
    reply = handle_retry(TaskAttempt(TASK, retry_count), world.ports, max_retries=10)
    return reply.status, reply.outcome


def test_success_resolves_the_record_and_syncs() -> None:
    world = failed_world()
    assert attempt(world, 0) == (200, "synced")
    record = world.failures.records[RECORD_ID]
    assert record.status is FailureStatus.RESOLVED
    assert record.retry_count == 1
    document = world.sessions.documents[SessionKey("u1", "s1")]
    assert document["bigquerySyncStatus"] == "synced"
    assert document["bigquerySyncRetryCount"] == 1


def test_transient_failure_with_attempts_left_answers_503_and_counts() -> None:
    world = failed_world()
    world.sink.outage.down = True
    assert attempt(world, 3) == (503, "retry_failed")
    record = world.failures.records[RECORD_ID]
    assert record.status is FailureStatus.PENDING
    assert record.retry_count == 4
    assert world.sessions.documents[SessionKey("u1", "s1")]["bigquerySyncRetryCount"] == 4


def test_exactly_ten_retries_then_abandoned() -> None:
    world = failed_world()
    world.sink.outage.down = True
    replies = [attempt(world, n) for n in range(10)]
    assert [status for status, _ in replies] == [503] * 9 + [200]
    assert replies[-1] == (200, "abandoned")
    record = world.failures.records[RECORD_ID]
    assert record.status is FailureStatus.ABANDONED
    assert record.retry_count == 10
    assert world.sessions.documents[SessionKey("u1", "s1")]["bigquerySyncStatus"] == "abandoned"
    assert world.sink.rows == []


def test_repeated_dispatches_cannot_exceed_the_limit() -> None:
    world = failed_world()
    world.sink.outage.down = True
    # The emulator may dispatch a duplicate task whose header restarts at 0.
    replies = [attempt(world, 0) for _ in range(12)]
    assert [status for status, _ in replies][:10] == [503] * 9 + [200]
    assert replies[10:] == [(200, "episode_abandoned")] * 2


def test_closed_episode_is_200_without_writes() -> None:
    world = failed_world()
    attempt(world, 0)
    rows = len(world.sink.rows)
    assert attempt(world, 1) == (200, "episode_resolved")
    assert len(world.sink.rows) == rows


def test_deleted_session_is_invalid_with_the_reason() -> None:
    world = failed_world()
    del world.sessions.documents[SessionKey("u1", "s1")]
    assert attempt(world, 0) == (200, "invalid")
    record = world.failures.records[RECORD_ID]
    assert record.status is FailureStatus.INVALID
    assert record.failure_reason == "session deleted"


def test_already_synced_event_is_200_with_no_write() -> None:
    world = failed_world()
    world.sessions.documents[SessionKey("u1", "s1")]["bigquerySyncEventId"] = "evt-1"
    world.failures.records.clear()
    assert attempt(world, 0) == (200, "already_synced")
    assert world.failures.records == {}


def test_recording_failure_answers_503() -> None:
    world = failed_world()
    world.failures.outage.down = True
    assert attempt(world, 0)[0] == 503


class Request:
    def __init__(self, body: object, headers: dict[str, str]) -> None:
        self._body = json.dumps(body).encode()
        self.headers = headers

    def get_data(self) -> bytes:
        return self._body


def test_endpoint_parses_body_and_headers() -> None:
    world = failed_world()
    endpoint = build_task_endpoint(SETTINGS, ports=world.healing, verifier=AllowAll())
    body, status, _ = endpoint(
        Request(
            TASK.body(),
            {"X-CloudTasks-TaskRetryCount": "0", "X-CloudTasks-TaskExecutionCount": "0"},
        )
    )
    assert status == 200 and json.loads(body)["outcome"] == "synced"


@pytest.mark.parametrize(
    ("body", "headers", "needle"),
    [
        ({**TASK.body(), "user_id": ""}, {"X-CloudTasks-TaskRetryCount": "0"}, "user_id"),
        ({**TASK.body(), "table": "other"}, {"X-CloudTasks-TaskRetryCount": "0"}, "table"),
        ({**TASK.body(), "origin": "x"}, {"X-CloudTasks-TaskRetryCount": "0"}, "origin"),
        ({**TASK.body(), "session_id": "a/b"}, {"X-CloudTasks-TaskRetryCount": "0"}, "session_id"),
        (TASK.body(), {}, "TaskRetryCount"),
        (TASK.body(), {"X-CloudTasks-TaskRetryCount": "-1"}, "TaskRetryCount"),
        ([1], {"X-CloudTasks-TaskRetryCount": "0"}, "object"),
    ],
)
def test_bad_tasks_are_rejected(body: object, headers: dict[str, str], needle: str) -> None:
    with pytest.raises(BadTask, match=needle):
        parse_task(json.dumps(body).encode(), headers, "sessions")


def test_queue_policy_backoff_follows_cloud_tasks_rules() -> None:
    policy = QueuePolicy()
    delays = [policy.backoff_seconds(n) for n in range(1, 11)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 96, 128, 160]
    assert QueuePolicy(max_doublings=16).backoff_seconds(13) == 3600


def test_a_failing_retry_without_a_record_opens_one() -> None:
    world = failed_world()
    world.failures.records.clear()
    world.sink.outage.down = True
    assert attempt(world, 2) == (503, "retry_failed")
    record = world.failures.records[RECORD_ID]
    assert (record.status, record.retry_count) == (FailureStatus.PENDING, 3)
