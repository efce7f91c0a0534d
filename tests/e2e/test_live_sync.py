"""Trigger and sync worker, end to end on the local stack (real emulators, real servers)."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests

from cli.local.net import HOST
from shared.auth import OidcVerifier
from shared.contract import SessionCompleted
from shared.gcp.clients import publisher_client, queue_path, tasks_client
from shared.model import episode_id
from shared.rows import session_row
from sync_worker.bootstrap import build_worker_ports
from sync_worker.handler import handle_deliveries
from sync_worker.push import PushEndpoint
from tests.e2e.harness import Pipeline, wait_for
from tests.unit import signing

pytestmark = pytest.mark.e2e


def test_completed_session_lands_once_with_the_right_values_and_hash(pipeline: Pipeline) -> None:
    key, document = pipeline.new_session()
    finished = pipeline.complete(key, document)
    data = pipeline.wait_status(key, "synced")
    [row] = pipeline.rows(key)
    expected = session_row(
        key.user_id,
        key.session_id,
        finished,
        pseudonymizer=pipeline.pseudonymizer,
        synced_at=row["synced_at"],
    )
    assert row["user_id_hash"] == pipeline.pseudonymizer.user_id_hash(key.user_id)
    assert row["rep_count"] == expected["rep_count"]
    assert row["overall_score"] == expected["overall_score"]
    assert row["warnings"] == expected["warnings"]
    assert row["start_time"].isoformat().replace("+00:00", "") in expected["start_time"]
    assert key.user_id not in json.dumps({k: str(v) for k, v in row.items()})
    assert data["bigquerySyncError"] is None
    assert data["bigquerySyncEventId"]


def test_session_created_already_completed_is_synced(pipeline: Pipeline) -> None:
    key, document = pipeline.new_session()
    pipeline.document(key).delete()
    pipeline.complete(key, document)
    pipeline.wait_status(key, "synced")
    assert len(pipeline.rows(key)) == 1


def test_other_writes_deletes_and_status_writes_publish_nothing(pipeline: Pipeline) -> None:
    key, document = pipeline.new_session()
    pipeline.complete(key, document)
    pipeline.wait_status(key, "synced")  # the worker's own status write happened too
    with pipeline.spy() as drain:
        other, _ = pipeline.new_session()
        pipeline.document(other).update({"repCount": 3})
        pipeline.document(key).update({"note": "edited after completion"})
        pipeline.document(key).delete()
        assert drain(3.0) == []
    assert pipeline.data(other).get("bigquerySyncStatus") is None


def test_recompletion_writes_a_second_version_and_the_view_shows_the_newest(
    pipeline: Pipeline,
) -> None:
    key, document = pipeline.new_session()
    pipeline.complete(key, document)
    first_event = pipeline.wait_status(key, "synced")["bigquerySyncEventId"]
    pipeline.document(key).update({"status": "active"})
    pipeline.document(key).update({"status": "completed", "repCount": 99})
    wait_for(
        lambda: pipeline.data(key).get("bigquerySyncEventId") not in (None, first_event),
        what="the second completion to sync",
    )
    rows = pipeline.rows(key)
    assert len(rows) == 2
    [latest] = pipeline.rows(key, view=True)
    assert latest["rep_count"] == 99
    assert latest["synced_at"] == max(row["synced_at"] for row in rows)


def test_the_same_message_delivered_twice_gives_one_row(pipeline: Pipeline) -> None:
    key, document = pipeline.new_session()
    pipeline.complete(key, document)
    pipeline.wait_status(key, "synced")
    message = SessionCompleted(key.user_id, key.session_id, "duplicate-event-1", "replay")
    data, attributes = message.encode()
    publisher = publisher_client(pipeline.settings)
    topic = publisher.topic_path(pipeline.settings.project, pipeline.settings.topic)
    for _ in range(2):
        publisher.publish(topic, data, **attributes).result(timeout=10)
    wait_for(
        lambda: pipeline.data(key).get("bigquerySyncEventId") == "duplicate-event-1",
        what="the replayed event to sync",
    )
    time.sleep(2)  # give the second delivery time to arrive and be skipped
    events = [row["synced_at"] for row in pipeline.rows(key)]
    assert len(events) == 2  # the trigger's row and one row for the duplicated event


def test_invalid_document_is_recorded_invalid_with_no_row_and_no_task(pipeline: Pipeline) -> None:
    key, document = pipeline.new_session()
    pipeline.document(key).set({**document, "status": "completed", "startTime": "yesterday"})
    data = pipeline.wait_status(key, "invalid")
    assert "startTime" in data["bigquerySyncError"]
    [record] = pipeline.failure_records(key)
    assert record["status"] == "invalid"
    assert pipeline.rows(key) == []
    tasks = tasks_client(pipeline.settings).list_tasks(parent=queue_path(pipeline.settings))
    assert list(tasks) == []


def test_a_body_that_is_not_a_push_envelope_is_rejected(pipeline: Pipeline) -> None:
    port = pipeline.settings.local_ports["LOCAL_SYNC_WORKER_PORT"]
    url = f"http://{HOST}:{port}/"
    for body in (b"", b"{}", json.dumps({"message": {"data": "!!"}}).encode()):
        response = requests.post(url, data=body, timeout=10)
        assert response.status_code == 400
    data = base64.b64encode(b"{}").decode()
    envelope = {"message": {"data": data, "messageId": "poison-1"}}
    assert requests.post(url, json=envelope, timeout=10).status_code == 200
    record = pipeline.firestore.collection("bigquerySyncFailures").document(
        episode_id("message:poison-1")
    )
    assert record.get().to_dict()["status"] == "invalid"


class PushRequest:
    def __init__(self, body: bytes, authorization: str | None) -> None:
        self._body = body
        self.headers = {"Authorization": authorization} if authorization else {}

    def get_data(self) -> bytes:
        return self._body


def test_unauthenticated_push_is_rejected_and_writes_nothing(pipeline: Pipeline) -> None:
    """The real worker ports on the emulators, with token checks on (test signing key)."""
    key, document = pipeline.new_session()
    pipeline.document(key).set({**document, "status": "completed"})  # the trigger syncs this one
    pipeline.wait_status(key, "synced")
    replay = SessionCompleted(key.user_id, key.session_id, "unauthenticated-1", "replay")
    data, attributes = replay.encode()
    envelope = json.dumps(
        {
            "message": {
                "data": base64.b64encode(data).decode(),
                "attributes": attributes,
                "messageId": "m-unauth",
            }
        }
    ).encode()
    ports = build_worker_ports(pipeline.settings)
    verifier = OidcVerifier(audience="aud", email="push@p.iam", certs=signing.certs)
    endpoint = PushEndpoint(verifier, lambda d: handle_deliveries([d], ports)[0])
    wrong = signing.token(audience="aud", email="intruder@p.iam")
    assert endpoint(PushRequest(envelope, None))[1] == 401
    assert endpoint(PushRequest(envelope, f"Bearer {wrong}"))[1] == 403
    assert len(pipeline.rows(key)) == 1
    assert pipeline.data(key)["bigquerySyncEventId"] != "unauthenticated-1"
    good = signing.token(audience="aud", email="push@p.iam")
    assert endpoint(PushRequest(envelope, f"Bearer {good}"))[1] == 200
    assert pipeline.data(key)["bigquerySyncEventId"] == "unauthenticated-1"
