"""Handle a batch of Pub/Sub deliveries: decode, sync, and defer transient failures.

Push and pull differ only in how they receive deliveries; both call
`handle_deliveries`, which says for each one whether it may be acknowledged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.contract import SessionCompleted, decode
from shared.episodes import Mark
from shared.errors import PermanentError, TransientError
from shared.logging import get_logger
from shared.model import FailureRecord, FailureStatus, episode_id
from shared.ports import RetryQueue
from shared.sync import Outcome, SyncPorts, Verdict, sync_sessions

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
    """Sync a batch; acknowledge only what is inserted and recorded, or has a live way forward.

    Undecodable messages and invalid sessions are recorded `invalid` and
    acknowledged. A transient failure is acknowledged once its episode is
    recorded and a live retry task scheduled (a redriven one once its
    failure is noted: the next redrive round is its way forward); if that
    fails, it is not acknowledged, so Pub/Sub redelivers it.
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
        verdicts = sync_sessions(messages, ports.sync)
    except TransientError as error:
        log.error("outcome_not_recorded", error=str(error), count=len(messages))
        for index, _ in decoded:
            handled[index] = Handled(False, "outcome_not_recorded")
    else:
        for (index, _), verdict in zip(decoded, verdicts, strict=True):
            if verdict.outcome is Outcome.FAILED:
                handled[index] = _defer(verdict, ports)
            else:
                handled[index] = Handled(True, verdict.outcome.value)
    return [item for item in handled if item is not None]


def _defer(verdict: Verdict, ports: WorkerPorts) -> Handled:
    """Hand a transient failure to its episode: a retry task, or the next redrive round."""
    message = verdict.message
    reason = verdict.error or "transient failure"
    episodes = ports.sync.episodes
    try:
        if message.origin == "redrive":
            record = ports.sync.failures.get(episode_id(message.event_id))
            if record is not None:  # the next redrive round is its way forward
                episodes.redrive_failed(record, reason)
                log.warning("redrive_failed", event_id=message.event_id, reason=reason)
                return Handled(True, "redrive_failed")
            message = dataclasses.replace(message, origin="trigger")  # its record is gone
        mark = episodes.defer(message, reason, ports.queue, snapshot=verdict.snapshot)
    except (TransientError, PermanentError) as error:
        log.error("retry_not_enqueued", event_id=message.event_id, error=str(error))
        return Handled(False, "retry_not_enqueued")
    if mark is not Mark.MARKED:
        return Handled(True, Outcome.COVERED.value)
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
        ports.sync.failures.create(record)
    except (TransientError, PermanentError) as failure:
        log.error("invalid_not_recorded", message_id=delivery.message_id, error=str(failure))
        return Handled(False, "invalid_not_recorded")
    log.warning("message_undecodable", message_id=delivery.message_id, error=str(error))
    return Handled(True, Outcome.INVALID.value)
