"""Handle one Cloud Tasks retry: sync again, then resolve, count, abandon or invalidate."""

from __future__ import annotations

from dataclasses import dataclass

from shared.contract import SessionCompleted
from shared.errors import TransientError
from shared.logging import get_logger
from shared.model import (
    FailureStatus,
    RetryTask,
    SessionKey,
    StatusUpdate,
    SyncStatus,
    episode_id,
)
from shared.sync import Outcome, SyncPorts, failure_record, sync_sessions

log = get_logger("retry_worker")
OK, RETRY_LATER = 200, 503
CLOSED = (FailureStatus.RESOLVED, FailureStatus.ABANDONED, FailureStatus.INVALID)


@dataclass(frozen=True)
class TaskAttempt:
    """A task delivery: its body and Cloud Tasks' `X-CloudTasks-TaskRetryCount` header."""

    task: RetryTask
    retry_count: int


@dataclass(frozen=True)
class TaskReply:
    status: int
    outcome: str


def handle_retry(attempt: TaskAttempt, ports: SyncPorts, *, max_retries: int) -> TaskReply:
    """Run one retry; answer 503 to be retried by Cloud Tasks, 200 when the episode is over.

    Retry n is the task's n-th dispatch (TaskRetryCount + 1), never fewer than
    the record's count + 1, so duplicate or immediately repeated dispatches (as
    the emulator makes) cannot stretch the episode beyond `max_retries`. The
    retry that reaches `max_retries` and still fails marks record and session
    `abandoned`. Idempotent for a closed episode: 200 with no write.
    """
    task = attempt.task
    record_id = episode_id(task.event_id)
    try:
        record = ports.failures.get(record_id)
        if record is not None and record.status in CLOSED:
            return TaskReply(OK, f"episode_{record.status.value}")
        retry_number = attempt.retry_count + 1
        if record is not None:
            retry_number = max(retry_number, record.retry_count + 1)
        message = SessionCompleted(task.user_id, task.session_id, task.event_id, task.origin)
        result = sync_sessions([message], ports, retry_count=retry_number)[0]
        return _conclude(
            message,
            result.outcome,
            result.error,
            retry_number,
            ports,
            max_retries=max_retries,
            recorded=record is not None,
        )
    except TransientError as error:
        log.error("retry_not_recorded", event_id=task.event_id, error=str(error))
        return TaskReply(RETRY_LATER, "retry_not_recorded")


def _conclude(
    message: SessionCompleted,
    outcome: Outcome,
    error: str | None,
    retry_number: int,
    ports: SyncPorts,
    *,
    max_retries: int,
    recorded: bool,
) -> TaskReply:
    """Record the retry's outcome; `recorded` says whether the episode's record exists."""
    record_id = episode_id(message.event_id)
    context = {
        "event_id": message.event_id,
        "session_id": message.session_id,
        "attempt": retry_number,
    }
    if outcome is Outcome.SYNCED:
        if recorded:
            ports.failures.close(record_id, FailureStatus.RESOLVED, retry_count=retry_number)
        log.info("retry_succeeded", **context)
        return TaskReply(OK, outcome.value)
    if outcome is not Outcome.FAILED:  # already synced, or invalid (recorded by the use case)
        return TaskReply(OK, outcome.value)
    reason = error or "transient failure"
    if not recorded:
        ports.failures.open(failure_record(message, reason, ports.table, FailureStatus.PENDING))
    key = SessionKey(message.user_id, message.session_id)
    if retry_number >= max_retries:
        ports.failures.close(
            record_id, FailureStatus.ABANDONED, reason=reason, retry_count=retry_number
        )
        ports.sessions.update_status(
            key, StatusUpdate(SyncStatus.ABANDONED, error=reason, retry_count=retry_number)
        )
        log.error("sync_abandoned", reason=reason, **context)
        return TaskReply(OK, "abandoned")
    ports.failures.record_retry(record_id, retry_count=retry_number, reason=reason)
    ports.sessions.update_status(
        key, StatusUpdate(SyncStatus.FAILED, error=reason, retry_count=retry_number)
    )
    log.warning("retry_failed", reason=reason, **context)
    return TaskReply(RETRY_LATER, "retry_failed")
