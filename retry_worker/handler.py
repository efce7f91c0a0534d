"""Handle one Cloud Tasks retry: sync again, then resolve, count, abandon or invalidate."""

from __future__ import annotations

from dataclasses import dataclass

from shared.contract import SessionCompleted
from shared.episodes import Mark, failure_record
from shared.errors import PermanentError, TransientError
from shared.logging import get_logger
from shared.model import FailureRecord, FailureStatus, RetryTask, episode_id
from shared.sync import Outcome, SyncPorts, sync_sessions

log = get_logger("retry_worker")
OK, RETRY_LATER = 200, 503


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
    """Run one retry; answer 503 to be retried by Cloud Tasks, 200 when the task is over.

    Retry n is the task's n-th dispatch (TaskRetryCount + 1), never fewer than
    the record's count + 1, so duplicate or immediately repeated dispatches (as
    the emulator makes) cannot stretch the episode beyond `max_retries`. The
    retry that reaches `max_retries` and still fails marks record and session
    `abandoned` (the redrive takes over from there). A task of a closed
    episode, or of an older attempt series, ends at once with no write.
    """
    task = attempt.task
    message = SessionCompleted(task.user_id, task.session_id, task.event_id, task.origin)
    try:
        record = ports.failures.get(episode_id(task.event_id))
        if record is not None and record.status is not FailureStatus.PENDING:
            return TaskReply(OK, f"episode_{record.status.value}")
        if record is not None and record.generation != task.generation:
            return TaskReply(OK, "superseded_task")
        retry_number = max(attempt.retry_count + 1, (record.retry_count if record else 0) + 1)
        [verdict] = sync_sessions(
            [message],
            ports,
            records={task.event_id: record} if record else None,
            retry_count=retry_number,
        )
        if verdict.outcome is not Outcome.FAILED:
            if verdict.outcome is Outcome.SYNCED:
                log.info("retry_succeeded", event_id=task.event_id, attempt=retry_number)
            return TaskReply(OK, verdict.outcome.value)
        reason = verdict.error or "transient failure"
        if record is None:  # rare: the record was removed; the episode goes on regardless
            record = ports.failures.create(failure_record(message, reason, ports.table))
        return _failed_again(record, retry_number, reason, ports, max_retries=max_retries)
    except (TransientError, PermanentError) as error:
        log.error("retry_not_recorded", event_id=task.event_id, error=str(error))
        return TaskReply(RETRY_LATER, "retry_not_recorded")


def _failed_again(
    record: FailureRecord, retry_number: int, reason: str, ports: SyncPorts, *, max_retries: int
) -> TaskReply:
    """Count the failed retry (503: Cloud Tasks retries), or abandon after the last (200)."""
    episodes = ports.episodes
    context = {
        "event_id": record.event_id,
        "session_id": record.session_id,
        "attempt": retry_number,
    }
    if retry_number >= max_retries:
        mark = episodes.abandon(record, retry_number, reason)
        return TaskReply(OK, "abandoned" if mark is Mark.MARKED else mark.value)
    mark = episodes.retry_failed(record, retry_number, reason)
    if mark is not Mark.MARKED:
        return TaskReply(OK, mark.value)
    log.warning("retry_failed", reason=reason, **context)
    return TaskReply(RETRY_LATER, "retry_failed")
