"""Retry worker, Cloud Tasks retries and the dead-letter lifecycle, on the whole local stack.

The local tasks emulator keeps Cloud Tasks' rules (see `cli/local/tasks_launcher.py`):
the queue's backoff schedule compressed by LOCAL_TIME_SCALE (the ten retries take
about 5 s here instead of about 8.5 minutes), at most `max_attempts` dispatches,
and task names that stay taken after their task ended.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from cli.local.net import HOST
from shared.fingerprint import row_fingerprint
from shared.gcp.clients import queue_path, tasks_client
from shared.gcp.tasks_queue import CloudTasksRetryQueue
from shared.model import Enqueued, RetryTask, episode_id
from shared.queue_policy import queue_policy
from tests.e2e.harness import Pipeline, wait_for

pytestmark = pytest.mark.e2e


def test_short_outage_fails_then_resolves_with_one_row(pipeline: Pipeline) -> None:
    """A 1.5 s outage is "short" here: the compressed schedule's retries reach past it."""
    pipeline.faults.set(fail_for_seconds=1.5)
    key, document = pipeline.new_session()
    pipeline.complete(key, document)
    seen = pipeline.wait_status(key, "failed", "synced", timeout=20)
    if seen["bigquerySyncStatus"] == "failed":
        assert "injected fault" in seen["bigquerySyncError"]
        assert pipeline.failure_records(key)[0]["status"] in ("pending", "resolved")
    synced = pipeline.wait_status(key, "synced", timeout=60)
    retries = synced["bigquerySyncRetryCount"]
    assert 1 <= retries < 10
    # The record and the session are two documents: wait for the worker's last write.
    [resolved] = wait_for(
        lambda: [r for r in pipeline.failure_records(key) if r["status"] == "resolved"],
        what="the record to be resolved",
    )
    assert resolved["retryCount"] == retries
    assert resolved["resolvedAt"] is not None
    assert synced["bigquerySyncError"] is None
    assert len(pipeline.rows(key)) == 1


def test_retries_follow_the_queue_schedule_and_stop_after_exactly_ten(pipeline: Pipeline) -> None:
    pipeline.faults.set(fail_rate=1.0)
    key, document = pipeline.new_session()
    pipeline.complete(key, document)
    abandoned = pipeline.wait_status(key, "abandoned", timeout=120)
    [record] = pipeline.failure_records(key)
    assert record["status"] == "abandoned"
    assert record["retryCount"] == 10
    assert abandoned["bigquerySyncRetryCount"] == 10
    assert pipeline.rows(key) == []
    # The ten retries took the compressed schedule's time, not ten emulator ticks.
    scale = pipeline.settings.time_scale
    policy = queue_policy(pipeline.settings.max_retries)
    schedule = sum(policy.backoff_seconds(n) for n in range(1, 10)) * scale
    spent = (record["lastRetryAt"] - record["createdAt"]).total_seconds()
    assert spent >= 0.8 * schedule, (spent, schedule)
    # Everything a replay or a redrive needs is on the record.
    assert (record["userId"], record["sessionId"]) == key
    assert record["eventId"] and record["failureReason"] and record["table"] == "sessions"
    assert record["id"] == episode_id(record["eventId"])
    assert record["nextRedriveAt"] is not None


def test_invalid_document_is_never_enqueued(pipeline: Pipeline) -> None:
    pipeline.faults.set(fail_rate=1.0)  # an insert would fail: the document must not get that far
    key, document = pipeline.new_session()
    pipeline.document(key).set({**document, "status": "completed", "repCount": "lots"})
    data = pipeline.wait_status(key, "invalid")
    assert "repCount" in data["bigquerySyncError"]
    [record] = pipeline.failure_records(key)
    assert (record["status"], record["retryCount"]) == ("invalid", 0)
    assert (
        list(tasks_client(pipeline.settings).list_tasks(parent=queue_path(pipeline.settings))) == []
    )
    assert pipeline.faults.state()["failed"] == 0


def test_a_task_dispatched_twice_at_once_gives_one_row_and_one_record(
    pipeline: Pipeline,
) -> None:
    """Cloud Tasks delivers at least once: two dispatches of one task may overlap (here with
    the queue's own dispatch too). Each may insert before any records the sync; their rows
    share the event id as insertId (BigQuery drops repeats; bqemulator keeps them), so they
    are one row version, and the view shows one row."""
    pipeline.faults.set(fail_rate=1.0)
    key, document = pipeline.new_session()
    pipeline.complete(key, document)
    failed = pipeline.wait_status(key, "failed", timeout=20)
    [record] = pipeline.failure_records(key)
    task = RetryTask(key.user_id, key.session_id, record["eventId"], "sessions")
    pipeline.faults.clear()
    url = f"http://{HOST}:{pipeline.settings.local_ports['LOCAL_RETRY_WORKER_PORT']}/"

    def dispatch(retry_count: int) -> int:
        headers = {"X-CloudTasks-TaskRetryCount": str(retry_count)}
        return requests.post(
            url, data=json.dumps(task.body()), headers=headers, timeout=30
        ).status_code

    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(dispatch, [1, 1]))
    assert set(replies) <= {200, 503}
    pipeline.wait_status(key, "synced", timeout=60)
    assert failed.get("bigquerySyncEventId") is None
    assert len({row_fingerprint(row) for row in pipeline.rows(key)}) == 1
    assert len(pipeline.rows(key, view=True)) == 1
    [resolved] = wait_for(
        lambda: [r for r in pipeline.failure_records(key) if r["status"] == "resolved"],
        what="the record to be resolved",
    )
    assert resolved["id"] == record["id"]


def test_a_task_name_is_taken_while_live_and_tombstoned_after(pipeline: Pipeline) -> None:
    settings = pipeline.settings
    queue = CloudTasksRetryQueue(
        tasks_client(settings), queue_path(settings), target_url=settings.retry_worker_url
    )
    pipeline.faults.set(fail_rate=1.0)
    key, document = pipeline.new_session()
    pipeline.complete(key, document)
    pipeline.wait_status(key, "failed", timeout=20)
    [record] = pipeline.failure_records(key)
    task = RetryTask(key.user_id, key.session_id, record["eventId"], "sessions")
    assert queue.enqueue(task) is Enqueued.EXISTS
    pipeline.wait_status(key, "abandoned", timeout=60)
    wait_for(
        lambda: not list(tasks_client(settings).list_tasks(parent=queue_path(settings))),
        what="the task to end after its last attempt",
    )
    assert queue.enqueue(task) is Enqueued.TOMBSTONED


def test_unable_to_enqueue_answers_5xx_and_loses_nothing(pipeline: Pipeline) -> None:
    pipeline.faults.set(fail_rate=1.0)
    pipeline.stack.stop_service("tasks")
    try:
        key, document = pipeline.new_session()
        pipeline.complete(key, document)
        # Pub/Sub redelivers while the worker answers 503; the episode is visible meanwhile.
        wait_for(
            lambda: pipeline.faults.state()["failed"] >= 6,
            timeout=30,
            what="the message to be redelivered",
        )
        assert pipeline.data(key)["bigquerySyncStatus"] == "failed"
        assert [r["status"] for r in pipeline.failure_records(key)] == ["pending"]
    finally:
        pipeline.stack.up()  # the tasks emulator returns, with its queue provisioned again
    pipeline.wait_status(key, "failed", timeout=30)
    pipeline.faults.clear()
    pipeline.wait_status(key, "synced", timeout=60)
    assert len(pipeline.rows(key)) == 1
