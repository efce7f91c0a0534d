"""Retry worker, Cloud Tasks retries and the dead-letter lifecycle, on the whole local stack.

Emulator behaviour these tests run against: gcloud-tasks-emulator dispatches a
failed task again about 0.1 s later (it ignores the queue's backoff) and does
not dedupe task names. The backoff schedule itself is checked in the unit tests
(tests/unit/test_retry_worker.py); here the worker's own attempt accounting
must make the outcome right regardless.
"""

from __future__ import annotations

import pytest

from shared.gcp.clients import queue_path, tasks_client
from shared.gcp.tasks_queue import CloudTasksRetryQueue
from shared.model import RetryTask, episode_id
from tests.e2e.harness import Pipeline, wait_for

pytestmark = pytest.mark.e2e


def test_short_outage_fails_then_resolves_with_one_row(pipeline: Pipeline) -> None:
    """With the emulator's immediate retries, ten retries span a few seconds: a
    1.5 s outage is "short" here (on GCP the backoff stretches them over ~8 minutes)."""
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
        lambda: [r for r in pipeline.failure_records(key) if r["retryCount"] == retries],
        what=f"the record's retry count to reach {retries}",
    )
    assert resolved["status"] == "resolved"
    assert resolved["resolvedAt"] is not None
    assert synced["bigquerySyncError"] is None
    assert len(pipeline.rows(key)) == 1


def test_outage_longer_than_all_retries_abandons_after_exactly_ten(pipeline: Pipeline) -> None:
    pipeline.faults.set(fail_rate=1.0)
    key, document = pipeline.new_session()
    pipeline.complete(key, document)
    abandoned = pipeline.wait_status(key, "abandoned", timeout=120)
    pipeline.faults.clear()
    [record] = pipeline.failure_records(key)
    assert record["status"] == "abandoned"
    assert record["retryCount"] == 10
    assert abandoned["bigquerySyncRetryCount"] == 10
    assert pipeline.rows(key) == []
    # Everything a replay needs is on the record.
    assert (record["userId"], record["sessionId"]) == key
    assert record["eventId"] and record["failureReason"] and record["table"] == "sessions"
    assert record["id"] == episode_id(record["eventId"])


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


def test_the_same_task_delivered_twice_gives_one_row_and_one_record(pipeline: Pipeline) -> None:
    pipeline.faults.set(fail_rate=1.0)
    key, document = pipeline.new_session()
    pipeline.complete(key, document)
    failed = pipeline.wait_status(key, "failed", timeout=20)
    event_id = failed.get("bigquerySyncEventId")
    [record] = pipeline.failure_records(key)
    settings = pipeline.settings
    queue = CloudTasksRetryQueue(
        tasks_client(settings), queue_path(settings), target_url=settings.retry_worker_url
    )
    queue.enqueue(RetryTask(key.user_id, key.session_id, record["eventId"], "sessions"))
    pipeline.faults.clear()
    pipeline.wait_status(key, "synced", timeout=60)
    wait_for(
        lambda: not list(tasks_client(settings).list_tasks(parent=queue_path(settings))),
        what="both tasks to finish",
    )
    assert event_id is None
    assert len(pipeline.rows(key)) == 1
    [resolved] = pipeline.failure_records(key)
    assert resolved["status"] == "resolved"


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
