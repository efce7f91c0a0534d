"""Self-healing on the whole local stack: no operator command anywhere in these tests.

The local scheduler calls the retry worker's `/redrive` every few seconds (the
compressed schedule); the daily `/reconcile` is called here directly, as
Cloud Scheduler would at its hour.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from cli.local.net import HOST
from shared.contract import SessionCompleted
from shared.gcp.clients import publisher_client, queue_path, tasks_client
from shared.healing_policy import HealingPolicy
from shared.model import RetryTask
from tests.e2e.harness import Pipeline, wait_for

pytestmark = pytest.mark.e2e


def scheduled_job(pipeline: Pipeline, job: str) -> dict[str, Any]:
    """Call a job of the retry worker as Cloud Scheduler does."""
    port = pipeline.settings.local_ports["LOCAL_RETRY_WORKER_PORT"]
    reply = requests.post(f"http://{HOST}:{port}/{job}", json={}, timeout=120)
    assert reply.status_code == 200, reply.text
    report: dict[str, Any] = reply.json()
    return report


def pipeline_grace(pipeline: Pipeline) -> float:
    """Seconds until sessions written now no longer count as in flight for reconcile."""
    policy = HealingPolicy(time_scale=pipeline.settings.time_scale)
    return policy.reconcile_grace.total_seconds() + 0.5


def test_an_outage_longer_than_every_retry_heals_once_bigquery_is_back(pipeline: Pipeline) -> None:
    pipeline.faults.set(fail_rate=1.0)
    key, document = pipeline.new_session()
    pipeline.complete(key, document)
    pipeline.wait_status(key, "abandoned", timeout=60)
    # The outage goes on: redrive rounds probe, find BigQuery down, and space out.
    wait_for(
        lambda: pipeline.redrive_state().get("failedRounds", 0) >= 2,
        timeout=60,
        what="two failed redrive rounds",
    )
    assert pipeline.data(key)["bigquerySyncStatus"] == "abandoned"
    pipeline.faults.clear()
    synced = pipeline.wait_status(key, "synced", timeout=60)
    assert synced["bigquerySyncError"] is None
    [record] = wait_for(
        lambda: [r for r in pipeline.failure_records(key) if r["status"] == "resolved"],
        what="the episode to be resolved",
    )
    assert record["retryCount"] == 10
    assert len(pipeline.rows(key)) == 1
    wait_for(lambda: pipeline.redrive_state().get("failedRounds") == 0, what="rounds reset")


def test_a_redelivered_event_of_a_closed_episode_gets_a_new_attempt_series(
    pipeline: Pipeline,
) -> None:
    """As after a subscription seek: the event comes again while BigQuery still fails."""
    pipeline.stack.stop_service("scheduler")  # keep the episode abandoned meanwhile
    try:
        pipeline.faults.set(fail_rate=1.0)
        key, document = pipeline.new_session()
        pipeline.complete(key, document)
        pipeline.wait_status(key, "abandoned", timeout=60)
        [record] = pipeline.failure_records(key)
        settings = pipeline.settings
        message = SessionCompleted(key.user_id, key.session_id, record["eventId"])
        data, attributes = message.encode()
        publisher = publisher_client(settings)
        publisher.publish(
            publisher.topic_path(settings.project, settings.topic), data, **attributes
        ).result(timeout=10)
        second = RetryTask(key.user_id, key.session_id, record["eventId"], "sessions", "trigger", 2)
        wait_for(
            lambda: any(
                task.name.endswith(second.name)
                for task in tasks_client(settings).list_tasks(parent=queue_path(settings))
            ),
            timeout=30,
            what="a live task of the second generation",
        )
        reopened = pipeline.failure_records(key)[0]
        assert (reopened["status"], reopened["generation"]) == ("pending", 2)
        pipeline.faults.clear()
        pipeline.wait_status(key, "synced", timeout=60)
        assert len(pipeline.rows(key)) == 1
    finally:
        pipeline.stack.up()


def test_completions_the_trigger_never_saw_are_repaired_and_recorded(pipeline: Pipeline) -> None:
    """The Firestore emulator drops events while the trigger is down; the daily reconcile
    replays the valid session and has the pipeline record the invalid one. (Stopped, not
    killed: a killed server's worker process may serve a moment longer.)"""
    pipeline.stack.stop_service("trigger")
    try:
        valid, document = pipeline.new_session(start_time=pipeline.recent_start())
        pipeline.complete(valid, document)
        invalid, other = pipeline.new_session(start_time=pipeline.recent_start())
        pipeline.document(invalid).set({**other, "status": "completed", "repCount": "lots"})
        time.sleep(3)  # the emulator tries to deliver both events to the dead trigger, once
    finally:
        pipeline.stack.up()
    assert pipeline.data(valid).get("bigquerySyncStatus") is None
    assert pipeline.data(invalid).get("bigquerySyncStatus") is None
    time.sleep(pipeline_grace(pipeline))
    report = scheduled_job(pipeline, "reconcile")
    assert report["replayed"] == 2, report
    pipeline.wait_status(valid, "synced", timeout=30)
    recorded = pipeline.wait_status(invalid, "invalid", timeout=30)
    assert "repCount" in recorded["bigquerySyncError"]
    assert [r["status"] for r in pipeline.failure_records(invalid)] == ["invalid"]
    assert len(pipeline.rows(valid)) == 1
