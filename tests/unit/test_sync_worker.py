"""Sync worker: push endpoint, envelope, batch handling and deferral, against fakes."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import pytest

from shared.auth import AllowAll, OidcVerifier
from shared.contract import SessionCompleted
from shared.model import FailureStatus, RetryTask, SessionKey, episode_id
from shared.settings import load_settings
from sync_worker.batcher import MicroBatcher
from sync_worker.bootstrap import build_push_endpoint
from sync_worker.envelope import NotAnEnvelope, parse_push_envelope
from sync_worker.handler import Delivery, Handled, WorkerPorts, handle_deliveries
from sync_worker.push import PushEndpoint
from tests.unit import signing
from tests.unit.documents import full_document
from tests.unit.fakes import World

SETTINGS = load_settings({"PIPELINE_MODE": "local"})


def envelope(message: SessionCompleted | None = None, *, data: bytes | None = None) -> bytes:
    attributes: dict[str, str] = {}
    if message is not None:
        data, attributes = message.encode()
    body = {
        "message": {
            "data": base64.b64encode(data or b"").decode(),
            "attributes": attributes,
            "messageId": "m-1",
        },
        "subscription": "projects/p/subscriptions/s",
    }
    return json.dumps(body).encode()


class Request:
    def __init__(self, body: bytes, authorization: str | None = None) -> None:
        self._body = body
        self.headers = {"Authorization": authorization} if authorization else {}

    def get_data(self) -> bytes:
        return self._body


def setup(world: World) -> tuple[SessionCompleted, WorkerPorts]:
    document = full_document()
    world.sessions.put("u1", "s1", document)
    return SessionCompleted("u1", "s1", "evt-1"), WorkerPorts(world.ports, world.queue)


def endpoint(ports: WorkerPorts, verifier: Any = None) -> PushEndpoint:
    """The push endpoint as the bootstrap builds it (micro-batcher included), over fakes."""
    return build_push_endpoint(SETTINGS, ports=ports, verifier=verifier or AllowAll())


def test_push_syncs_and_acks() -> None:
    world = World()
    message, ports = setup(world)
    body, status, _ = endpoint(ports)(Request(envelope(message)))
    assert status == 200
    assert json.loads(body) == {"outcome": "synced"}
    assert len(world.sink.rows) == 1


def test_transient_failure_is_deferred_then_acked() -> None:
    world = World()
    message, ports = setup(world)
    world.sink.outage.down = True
    _, status, _ = endpoint(ports)(Request(envelope(message)))
    assert status == 200
    assert list(world.queue.tasks) == [RetryTask("u1", "s1", "evt-1", "sessions").name]
    assert world.failures.records[episode_id("evt-1")].status is FailureStatus.PENDING
    document = world.sessions.documents[SessionKey("u1", "s1")]
    assert document["bigquerySyncStatus"] == "failed"
    assert "unavailable" in document["bigquerySyncError"]


def test_deferral_that_cannot_enqueue_answers_503() -> None:
    world = World()
    message, ports = setup(world)
    world.sink.outage.down = True
    world.queue.outage.down = True
    _, status, _ = endpoint(ports)(Request(envelope(message)))
    assert status == 503
    # The episode stays visible (pending, status failed) while Pub/Sub redelivers.
    assert world.failures.records[episode_id("evt-1")].status is FailureStatus.PENDING
    assert world.queue.tasks == {}


def test_redelivered_deferral_enqueues_once() -> None:
    world = World()
    message, ports = setup(world)
    world.sink.outage.down = True
    for _ in range(2):
        endpoint(ports)(Request(envelope(message)))
    assert len(world.queue.tasks) == 1
    assert len(world.failures.records) == 1


def test_undecodable_message_is_recorded_invalid_and_acked() -> None:
    world = World()
    _, ports = setup(world)
    _, status, _ = endpoint(ports)(Request(envelope(data=b"{broken")))
    assert status == 200
    [record] = world.failures.records.values()
    assert record.status is FailureStatus.INVALID
    assert "m-1" in record.failure_reason


def test_invalid_document_is_invalid_not_enqueued() -> None:
    world = World()
    message, ports = setup(world)
    world.sessions.documents[SessionKey("u1", "s1")]["startTime"] = "not a time"
    _, status, _ = endpoint(ports)(Request(envelope(message)))
    assert status == 200
    assert world.queue.tasks == {}
    assert world.failures.records[episode_id("evt-1")].status is FailureStatus.INVALID


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"message": 1}',
        b'{"message": {"data": "x"}}',
        b'{"message": {"messageId": "1", "data": "***"}}',
        b'{"message": {"messageId": "1", "attributes": {"a": 1}}}',
    ],
)
def test_not_an_envelope_is_400_without_side_effects(body: bytes) -> None:
    world = World()
    _, ports = setup(world)
    _, status, _ = endpoint(ports)(Request(body))
    assert status == 400
    assert world.sink.requests == 0 and world.failures.records == {}
    with pytest.raises(NotAnEnvelope):
        parse_push_envelope(body)


def test_unauthenticated_push_is_rejected_without_side_effects() -> None:
    world = World()
    message, ports = setup(world)
    verifier = OidcVerifier(audience="aud", email="push@p.iam", certs=signing.certs)
    push = endpoint(ports, verifier)
    assert push(Request(envelope(message)))[1] == 401
    wrong = signing.token(audience="aud", email="other@p.iam")
    assert push(Request(envelope(message), f"Bearer {wrong}"))[1] == 403
    assert world.sink.requests == 0 and world.sessions.outage.calls == 0
    good = signing.token(audience="aud", email="push@p.iam")
    assert push(Request(envelope(message), f"Bearer {good}"))[1] == 200


def test_handle_deliveries_keeps_order_and_outcomes() -> None:
    world = World()
    message, ports = setup(world)
    good = Delivery(*message.encode(), "m-1")
    bad = Delivery(b"{}", {}, "m-2")
    results = handle_deliveries([bad, good], ports)
    assert results == [Handled(True, "invalid"), Handled(True, "synced")]


def test_micro_batcher_coalesces_concurrent_submissions() -> None:
    calls: list[list[int]] = []

    def process(items: Any) -> list[int]:
        calls.append(list(items))
        return [item * 10 for item in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(process, window=0.2, max_size=100)
    results: dict[int, int] = {}
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, batcher.submit(i)))
        for i in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {i: i * 10 for i in range(20)}
    assert len(calls) < 20
    assert sum(len(c) for c in calls) == 20


def test_micro_batcher_closes_a_full_batch_early_and_propagates_errors() -> None:
    def process(items: Any) -> list[int]:
        raise RuntimeError("boom")

    batcher: MicroBatcher[int, int] = MicroBatcher(process, window=5, max_size=1)
    with pytest.raises(RuntimeError, match="boom"):
        batcher.submit(1)


def test_a_redriven_message_that_fails_again_waits_for_the_next_round() -> None:
    world = World()
    message, ports = setup(world)
    world.sink.outage.down = True
    deliver = endpoint(ports)
    assert deliver(Request(envelope(message)))[1] == 200  # episode opened, task scheduled
    record = world.failures.records[episode_id("evt-1")]
    redriven = SessionCompleted("u1", "s1", "evt-1", "redrive")
    body, status, _ = deliver(Request(envelope(redriven)))
    assert (status, json.loads(body)) == (200, {"outcome": "redrive_failed"})
    assert len(world.queue.tasks) == 1  # no second task: the redrive owns its next attempt
    assert world.failures.records[record.record_id].status is FailureStatus.PENDING


def test_a_redriven_message_whose_record_is_gone_opens_an_episode_with_a_live_task() -> None:
    world = World()
    _, ports = setup(world)
    world.sink.outage.down = True
    redriven = SessionCompleted("u1", "s1", "evt-1", "redrive")
    body, status, _ = endpoint(ports)(Request(envelope(redriven)))
    assert (status, json.loads(body)) == (200, {"outcome": "retry_enqueued"})
    [task] = world.queue.live_tasks()
    assert (task.event_id, task.origin) == ("evt-1", "trigger")
    assert world.failures.records[episode_id("evt-1")].status is FailureStatus.PENDING
