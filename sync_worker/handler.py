"""Handle a batch of Pub/Sub deliveries: decode, sync, and defer transient failures.

Push and pull differ only in how they receive deliveries; both call
`handle_deliveries`, which says for each one whether it may be acknowledged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.contract import SessionCompleted, decode
from shared.errors import PermanentError, TransientError
from shared.logging import get_logger
from shared.model import (
    FailureRecord,
    FailureStatus,
    RetryTask,
    SessionKey,
    StatusUpdate,
    SyncStatus,
    episode_id,
)
from shared.ports import RetryQueue
from shared.sync import Outcome, SyncPorts, failure_record, sync_sessions

log = get_logger("sync_worker")


@dataclass(frozen=True)
class Delivery:
    """One Pub/Sub message as received, before decoding."""

    data: bytes
    attributes: Mapping[str, str]
    message_id: str


@dataclass(frozen=True)
class Handled:
    """Whether a delivery may be acknowledged, and what happened to it."""

    ack: bool
    outcome: str


@dataclass(frozen=True)
class WorkerPorts:
    sync: SyncPorts
    queue: RetryQueue


def handle_deliveries(deliveries: Sequence[Delivery], ports: WorkerPorts) -> list[Handled]:
    """Sync a batch; acknowledge only what is inserted and recorded, or safely deferred.

    Undecodable messages and invalid sessions are recorded `invalid` and
    acknowledged. A transient failure is acknowledged once its failure record
    is opened and its retry task enqueued; if either fails, it is not
    acknowledged, so Pub/Sub redelivers it.
    """
    handled: list[Handled | None] = [None] * len(deliveries)
    decoded: list[tuple[int, SessionCompleted]] = []
    for index, delivery in enumerate(deliveries):
        try:
            decoded.append((index, decode(delivery.data, delivery.attributes)))
        except PermanentError as error:
            handled[index] = _record_undecodable(delivery, error, ports)
    messages = [message for _, message in decoded]
    try:
        results = sync_sessions(messages, ports.sync)
    except TransientError as error:
        log.error("outcome_not_recorded", error=str(error), count=len(messages))
        for index, _ in decoded:
            handled[index] = Handled(False, "outcome_not_recorded")
    else:
        for (index, message), result in zip(decoded, results, strict=True):
            if result.outcome is Outcome.FAILED:
                handled[index] = _defer(message, result.error or "transient failure", ports)
            else:
                handled[index] = Handled(True, result.outcome.value)
    return [item for item in handled if item is not None]


def _defer(message: SessionCompleted, reason: str, ports: WorkerPorts) -> Handled:
    """Open the failure record, mark the session `failed`, then enqueue the retry task.

    In this order, the retry worker (which may run at once) always finds the
    record and the status it is about to resolve.
    """
    key = SessionKey(message.user_id, message.session_id)
    task = RetryTask(
        message.user_id, message.session_id, message.event_id, ports.sync.table, message.origin
    )
    try:
        ports.sync.failures.open(
            failure_record(message, reason, ports.sync.table, FailureStatus.PENDING)
        )
        ports.sync.sessions.update_status(
            key, StatusUpdate(SyncStatus.FAILED, error=reason, retry_count=0)
        )
        ports.queue.enqueue(task)
    except TransientError as error:
        log.error("retry_not_enqueued", event_id=message.event_id, error=str(error))
        return Handled(False, "retry_not_enqueued")
    log.warning(
        "retry_enqueued", event_id=message.event_id, session_id=message.session_id, reason=reason
    )
    return Handled(True, "retry_enqueued")


def _record_undecodable(delivery: Delivery, error: PermanentError, ports: WorkerPorts) -> Handled:
    record = FailureRecord(
        record_id=episode_id(f"message:{delivery.message_id}"),
        user_id="",
        session_id="",
        event_id=f"message:{delivery.message_id}",
        failure_reason=f"undecodable message {delivery.message_id}: {error}",
        status=FailureStatus.INVALID,
        table=ports.sync.table,
    )
    try:
        ports.sync.failures.open(record)
    except TransientError as failure:
        log.error("invalid_not_recorded", message_id=delivery.message_id, error=str(failure))
        return Handled(False, "invalid_not_recorded")
    log.warning("message_undecodable", message_id=delivery.message_id, error=str(error))
    return Handled(True, Outcome.INVALID.value)
