"""The sync use case shared by both workers: read, transform, insert, record the outcome."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.contract import SessionCompleted
from shared.errors import PermanentError, PipelineError, TransientError
from shared.logging import get_logger
from shared.model import (
    COMPLETED,
    FailureRecord,
    FailureStatus,
    SessionKey,
    SessionSnapshot,
    StatusUpdate,
    SyncStatus,
    episode_id,
)
from shared.ports import FailureStore, RowSink, SessionStore
from shared.pseudonym import Pseudonymizer
from shared.rows import session_row

log = get_logger("sync")


# A session whose status is one of these may have pending or abandoned failure records.
_MAY_HAVE_OPEN_RECORDS = (SyncStatus.FAILED, SyncStatus.ABANDONED)


class Outcome(StrEnum):
    """What happened to one message."""

    SYNCED = "synced"
    ALREADY_SYNCED = "already_synced"
    INVALID = "invalid"
    FAILED = "failed"  # transient: the transport decides how to retry


@dataclass(frozen=True)
class SyncResult:
    message: SessionCompleted
    outcome: Outcome
    error: str | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SyncPorts:
    """What `sync_sessions` needs; built by each worker's bootstrap."""

    sessions: SessionStore
    failures: FailureStore
    sink: RowSink
    pseudonymizer: Pseudonymizer
    table: str
    clock: Callable[[], datetime] = utc_now


def sync_sessions(
    messages: Sequence[SessionCompleted], ports: SyncPorts, *, retry_count: int | None = None
) -> list[SyncResult]:
    """Sync a batch: one read, one insertAll, one batched status write.

    Returns one result per message, in order. Synced sessions get status
    `synced` and every open failure record of theirs resolved; invalid ones get
    status and record `invalid`. `FAILED` results (transient) are left for the
    caller to retry. A message whose event is already synced is skipped with no
    write, so redeliveries are harmless. Raises `TransientError` only when
    recording the outcome fails, in which case nothing may be acknowledged.
    """
    unique = list({message.event_id: message for message in messages}.values())
    outcomes, snapshots = _classify(unique, ports)
    _record(unique, outcomes, snapshots, ports, retry_count)
    by_event = {message.event_id: outcomes[message.event_id] for message in unique}
    return [
        SyncResult(message, *by_event[message.event_id])
        for message in messages  # duplicates in one batch share their twin's outcome
    ]


Verdicts = dict[str, tuple[Outcome, str | None]]


def _classify(
    messages: Sequence[SessionCompleted], ports: SyncPorts
) -> tuple[Verdicts, dict[SessionKey, SessionSnapshot | None]]:
    """Decide each message's outcome; also return the snapshots read."""
    keys = list(dict.fromkeys(SessionKey(m.user_id, m.session_id) for m in messages))
    try:
        snapshots = ports.sessions.get_many(keys)
    except TransientError as error:
        return {m.event_id: (Outcome.FAILED, str(error)) for m in messages}, {}
    outcomes: Verdicts = {}
    rows: dict[str, dict[str, Any]] = {}
    synced_at = ports.clock()
    for message in messages:
        snapshot = snapshots.get(SessionKey(message.user_id, message.session_id))
        verdict = _check_snapshot(message, snapshot)
        if verdict is not None:
            outcomes[message.event_id] = verdict
            continue
        assert snapshot is not None
        try:
            rows[message.event_id] = session_row(
                message.user_id,
                message.session_id,
                snapshot.data,
                pseudonymizer=ports.pseudonymizer,
                synced_at=synced_at,
            )
        except PermanentError as error:
            outcomes[message.event_id] = (Outcome.INVALID, str(error))
    outcomes.update(_insert(rows, ports.sink))
    return outcomes, snapshots


def _check_snapshot(
    message: SessionCompleted, snapshot: SessionSnapshot | None
) -> tuple[Outcome, str | None] | None:
    """The outcome decided by the document alone, or None when it must be inserted."""
    if snapshot is None:
        return Outcome.INVALID, "session deleted"
    if snapshot.synced_event_id == message.event_id:
        return Outcome.ALREADY_SYNCED, None
    if snapshot.status != COMPLETED:
        return Outcome.INVALID, f"session status is {snapshot.status!r}, not 'completed'"
    return None


def _insert(rows: dict[str, dict[str, Any]], sink: RowSink) -> Verdicts:
    if not rows:
        return {}
    try:
        errors: dict[str, PipelineError] = sink.insert(rows)
    except TransientError as error:
        return {event_id: (Outcome.FAILED, str(error)) for event_id in rows}
    except PermanentError as error:
        return {event_id: (Outcome.INVALID, str(error)) for event_id in rows}
    outcomes: Verdicts = {}
    for event_id in rows:
        row_error = errors.get(event_id)
        if row_error is None:
            outcomes[event_id] = (Outcome.SYNCED, None)
        elif isinstance(row_error, PermanentError):
            outcomes[event_id] = (Outcome.INVALID, str(row_error))
        else:
            outcomes[event_id] = (Outcome.FAILED, str(row_error))
    return outcomes


def _record(
    messages: Sequence[SessionCompleted],
    outcomes: Verdicts,
    snapshots: dict[SessionKey, SessionSnapshot | None],
    ports: SyncPorts,
    retry_count: int | None,
) -> None:
    updates: list[tuple[SessionKey, StatusUpdate]] = []
    reopened: list[SessionKey] = []  # synced now, with open failure records to resolve
    synced = 0
    for message in messages:
        outcome, error = outcomes[message.event_id]
        key = SessionKey(message.user_id, message.session_id)
        if outcome is Outcome.SYNCED:
            synced += 1
            snapshot = snapshots.get(key)
            if snapshot is not None and snapshot.sync_status in _MAY_HAVE_OPEN_RECORDS:
                reopened.append(key)
            updates.append(
                (
                    key,
                    StatusUpdate(
                        SyncStatus.SYNCED, event_id=message.event_id, retry_count=retry_count
                    ),
                )
            )
            log.debug("row_inserted", event_id=message.event_id, session_id=message.session_id)
        elif outcome is Outcome.INVALID:
            record_invalid(message, error or "invalid", ports.failures, ports.table)
            if snapshots.get(key) is not None:
                updates.append((key, StatusUpdate(SyncStatus.INVALID, error=error)))
    if reopened:  # before the status write: a session seen `synced` has no open records
        resolved = ports.failures.resolve_open(reopened)
        if resolved:
            log.info("failures_resolved", count=resolved)
    if updates:
        ports.sessions.update_statuses(updates)
    if synced:
        log.info("rows_inserted", count=synced, batch=len(messages))


def record_invalid(
    message: SessionCompleted, reason: str, failures: FailureStore, table: str
) -> None:
    """Open (or close as) an `invalid` failure record for this event. Idempotent."""
    record = failure_record(message, reason, table, FailureStatus.INVALID)
    existing = failures.open(record)
    if existing.status is not FailureStatus.INVALID:
        failures.close(record.record_id, FailureStatus.INVALID, reason=reason)
    log.warning(
        "sync_invalid", event_id=message.event_id, session_id=message.session_id, reason=reason
    )


def failure_record(
    message: SessionCompleted, reason: str, table: str, status: FailureStatus
) -> FailureRecord:
    """The failure record of this message's episode (id derived from the event id)."""
    return FailureRecord(
        record_id=episode_id(message.event_id),
        user_id=message.user_id,
        session_id=message.session_id,
        event_id=message.event_id,
        failure_reason=reason,
        status=status,
        origin=message.origin,
        table=table,
    )
