"""The three entry points of `main.py`, driven through functions-framework's own test client.

Each component is built by its real bootstrap with the fakes at the ports and
installed into the `main` module functions-framework loaded: the same request
parsing, micro-batching and routing as deployed, no emulator anywhere.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import pytest
from functions_framework import create_app

from retry_worker.bootstrap import build_task_endpoint
from shared.auth import AllowAll
from shared.contract import SessionCompleted
from shared.model import RetryTask, SessionKey
from shared.settings import Settings, load_settings
from sync_worker.bootstrap import build_push_endpoint
from sync_worker.handler import WorkerPorts
from tests.conftest import REPO_ROOT
from tests.unit.documents import full_document
from tests.unit.fakes import FakePublisher, World
from tests.unit.test_trigger import payload
from trigger.bootstrap import build_trigger

SOURCE = str(REPO_ROOT / "main.py")
SETTINGS: Settings = load_settings({"PIPELINE_MODE": "local"})


@pytest.fixture(autouse=True)
def process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What functions-framework and the clients set in the environment is undone afterwards.

    Loading `main.py` builds the production component for FUNCTION_TARGET (which
    functions-framework sets) with clients that connect lazily; nothing is reached.
    """
    for name in ("FUNCTION_TARGET", "FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("AUTH_DISABLED", "true")


def serve(target: str, component: Any) -> Any:
    """A test client of `target` as functions-framework serves it, with `component` installed."""
    app = create_app(target, SOURCE)
    sys.modules["main"].install(target, component)
    return app.test_client()


def test_trigger_entry_point_publishes_a_completion_from_a_binary_cloud_event() -> None:
    publisher = FakePublisher()
    client = serve("on_session_written", build_trigger(SETTINGS, publisher=publisher))
    response = client.post(
        "/",
        data=payload("active", "completed"),
        headers={
            "ce-id": "event-1",
            "ce-specversion": "1.0",
            "ce-source": "//firestore.googleapis.com/projects/p/databases/(default)",
            "ce-type": "google.cloud.firestore.document.v1.written",
            "ce-subject": "documents/users/u1/sessions/s1",
            "Content-Type": "application/protobuf",
        },
    )
    assert response.status_code == 200
    [message] = publisher.messages
    assert (message.user_id, message.session_id, message.event_id) == ("u1", "s1", "event-1")


def test_sync_worker_entry_point_syncs_a_push_through_the_micro_batcher() -> None:
    world = World()
    world.sessions.put("u1", "s1", full_document())
    ports = WorkerPorts(world.ports, world.queue)
    client = serve(
        "sync_worker_push", build_push_endpoint(SETTINGS, ports=ports, verifier=AllowAll())
    )
    data, attributes = SessionCompleted("u1", "s1", "evt-1").encode()
    envelope = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": attributes,
            "messageId": "m-1",
        },
        "subscription": "projects/p/subscriptions/session-completed-push",
    }
    response = client.post("/", json=envelope)
    assert (response.status_code, response.get_json()) == (200, {"outcome": "synced"})
    assert [insert_id for insert_id, _ in world.sink.rows] == ["evt-1"]
    assert world.sessions.documents[SessionKey("u1", "s1")]["bigquerySyncStatus"] == "synced"
    assert client.post("/", data=b"not an envelope").status_code == 400


def test_retry_worker_entry_point_runs_a_task_and_the_scheduled_jobs() -> None:
    world = World()
    world.sessions.put("u1", "s1", full_document())
    client = serve(
        "retry_worker_task",
        build_task_endpoint(SETTINGS, ports=world.healing, verifier=AllowAll()),
    )
    task = RetryTask("u1", "s1", "evt-1", SETTINGS.bq_table)
    response = client.post(
        "/", data=json.dumps(task.body()), headers={"X-CloudTasks-TaskRetryCount": "0"}
    )
    assert (response.status_code, response.get_json()) == (200, {"outcome": "synced"})
    assert [insert_id for insert_id, _ in world.sink.rows] == ["evt-1"]
    redrive = client.post("/redrive", json={})
    assert redrive.status_code == 200 and redrive.get_json()["due"] == 0
    reconcile = client.post("/reconcile", json={})
    assert reconcile.status_code == 200 and reconcile.get_json()["replayed"] == 0
