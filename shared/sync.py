"""The sync use case shared by both workers: read → rows → insert → record, one verdict each."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.contract import SessionCompleted
from shared.episodes import Episodes, Inserted, is_covered
from shared.errors import PermanentError, TransientError
from shared.fingerprint import document_fingerprint, row_fingerprint
from shared.healing_policy import HealingPolicy
from shared.logging import get_logger
from shared.model import COMPLETED, FailureRecord, SessionKey, SessionSnapshot, episode_id
from shared.ports import FailureStore, RowSink, SessionStore
from shared.pseudonym import Pseudonymizer
from shared.rows import session_row

log = get_logger("sync")


class Outcome(StrEnum):
    """What happened to one message."""

    SYNCED = "synced"
    ALREADY_SYNCED = "already_synced"  # this very event was synced before: a redelivery
    COVERED = "covered"  # the session is synced with what this event wants: nothing inserted
    INVALID = "invalid"
    FAILED = "failed"  # transient: the transport decides how to retry


@dataclass(frozen=True)
class Verdict:
    """The outcome of one message, with the reason of a failure or an invalid document."""

    message: SessionCompleted
    outcome: Outcome
    error: str | None = None
    snapshot: SessionSnapshot | None = None  # the session as read, when it was


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
    policy: HealingPolicy = field(default_factory=HealingPolicy)

    @property
    def episodes(self) -> Episodes:
        """The episode owner over these ports."""
        return Episodes(
            sessions=self.sessions,
            failures=self.failures,
            table=self.table,
            fingerprint=lambda snapshot: document_fingerprint(snapshot, self.pseudonymizer),
            clock=self.clock,
            policy=self.policy,
        )


@dataclass(frozen=True)
class _Row:
    """A message whose session became a row, waiting for the insert."""

    message: SessionCompleted
    snapshot: SessionSnapshot
    row: dict[str, Any]
    fingerprint: str


def sync_sessions(
    messages: Sequence[SessionCompleted],
    ports: SyncPorts,
    *,
    records: Mapping[str, FailureRecord] | None = None,
    retry_count: int | None = None,
) -> list[Verdict]:
    """Sync a batch: one read, one insertAll, one batched status write; a verdict per message.

    `records` are the open episodes (by event id) the messages retry; redriven
    messages find theirs. A message whose episode BigQuery already covers is
    not inserted again. Synced sessions get status `synced` and the episodes
    the sync covers are resolved; invalid ones get status and record `invalid`.
    `FAILED` verdicts (transient) are left for the caller to retry. Raises
    `TransientError` only when recording an outcome fails, in which case
    nothing may be acknowledged; a permanent error while recording one
    outcome is logged and does not touch the others.
    """
    unique = list({message.event_id: message for message in messages}.values())
    episodes = dict(records or {})
    verdicts = _record(_decide(unique, ports, episodes), ports, episodes, retry_count)
    by_event = {verdict.message.event_id: verdict for verdict in verdicts}
    return [by_event[message.event_id] for message in messages]  # duplicates share a verdict


def _decide(
    messages: list[SessionCompleted], ports: SyncPorts, episodes: dict[str, FailureRecord]
) -> list[Verdict | _Row]:
    """Read every session once and decide what each message needs; insert the rows."""
    keys = list(dict.fromkeys(SessionKey(m.user_id, m.session_id) for m in messages))
    try:
        snapshots = ports.sessions.get_many(keys)
        _find_redriven_episodes(messages, ports.failures, episodes)
    except TransientError as error:
        return [Verdict(m, Outcome.FAILED, str(error)) for m in messages]
    synced_at = ports.clock()
    decided: list[Verdict | _Row] = []
    for message in messages:
        snapshot = snapshots.get(SessionKey(message.user_id, message.session_id))
        decided.append(
            _prepare(message, snapshot, episodes.get(message.event_id), ports, synced_at)
        )
    rows = {item.message.event_id: item.row for item in decided if isinstance(item, _Row)}
    errors = ports.sink.insert(rows) if rows else {}
    return [_inserted(item, errors) if isinstance(item, _Row) else item for item in decided]


def _find_redriven_episodes(
    messages: list[SessionCompleted], failures: FailureStore, episodes: dict[str, FailureRecord]
) -> None:
    """Redriven messages act for an existing episode: read those records (one round trip)."""
    wanted = {
        episode_id(m.event_id): m.event_id
        for m in messages
        if m.origin == "redrive" and m.event_id not in episodes
    }
    if wanted:
        for record_id, record in failures.get_many(list(wanted)).items():
            episodes[wanted[record_id]] = record


def _prepare(
    message: SessionCompleted,
    snapshot: SessionSnapshot | None,
    record: FailureRecord | None,
    ports: SyncPorts,
    synced_at: datetime,
) -> Verdict | _Row:
    """The verdict decided by the document alone, or the row to insert."""
    if snapshot is None:
        return Verdict(message, Outcome.INVALID, "session deleted")
    if snapshot.synced_event_id == message.event_id:
        return Verdict(message, Outcome.ALREADY_SYNCED, snapshot=snapshot)
    if snapshot.status != COMPLETED:
        reason = f"session status is {snapshot.status!r}, not 'completed'"
        return Verdict(message, Outcome.INVALID, reason, snapshot)
    try:
        row = session_row(
            message.user_id,
            message.session_id,
            snapshot.data,
            pseudonymizer=ports.pseudonymizer,
            synced_at=synced_at,
        )
    except PermanentError as error:
        return Verdict(message, Outcome.INVALID, str(error), snapshot)
    fingerprint = row_fingerprint(row)
    if _already_covered(message, snapshot, record, fingerprint):
        return Verdict(message, Outcome.COVERED, snapshot=snapshot)
    return _Row(message, snapshot, row, fingerprint)


def _already_covered(
    message: SessionCompleted,
    snapshot: SessionSnapshot,
    record: FailureRecord | None,
    fingerprint: str,
) -> bool:
    """Whether inserting would only repeat a row BigQuery has (see `episodes.is_covered`).

    A replay without an episode always inserts: it asks for a fresh row.
    """
    if record is not None:
        return is_covered(snapshot, record, fingerprint)
    if message.origin in ("trigger", "backfill"):
        return bool(snapshot.sync_status == "synced" and snapshot.synced_fingerprint == fingerprint)
    return False


def _inserted(item: _Row, errors: Mapping[str, Exception]) -> Verdict | _Row:
    error = errors.get(item.message.event_id)
    if error is None:
        return item
    outcome = Outcome.INVALID if isinstance(error, PermanentError) else Outcome.FAILED
    return Verdict(item.message, outcome, str(error), item.snapshot)


def _record(
    decided: list[Verdict | _Row],
    ports: SyncPorts,
    episodes: dict[str, FailureRecord],
    retry_count: int | None,
) -> list[Verdict]:
    """Record every outcome; rows now in BigQuery become `SYNCED` verdicts."""
    owner = ports.episodes
    inserted = [
        Inserted(i.message, i.snapshot, i.fingerprint) for i in decided if isinstance(i, _Row)
    ]
    changed: dict[str, str] = {}
    try:
        if inserted:
            changed = owner.synced(inserted, retry_count=retry_count, known=list(episodes.values()))
    except PermanentError as error:  # the rows are in; Firestore refused the bookkeeping for good
        log.error("outcome_not_recorded", count=len(inserted), error=str(error))
    verdicts: list[Verdict] = []
    for item in decided:
        if isinstance(item, _Row):
            reason = changed.get(item.message.event_id)
            outcome = Outcome.FAILED if reason else Outcome.SYNCED
            verdicts.append(Verdict(item.message, outcome, reason, item.snapshot))
        else:
            verdicts.append(_close(item, owner, episodes.get(item.message.event_id)))
    synced = sum(1 for verdict in verdicts if verdict.outcome is Outcome.SYNCED)
    if synced:
        log.info("rows_inserted", count=synced, batch=len(verdicts))
    return verdicts


def _close(verdict: Verdict, owner: Episodes, record: FailureRecord | None) -> Verdict:
    """Record an invalid document, or resolve the episode an earlier sync covered."""
    message = verdict.message
    try:
        if verdict.outcome is Outcome.INVALID:
            changed = owner.invalid(message, verdict.error or "invalid", verdict.snapshot)
            if changed:
                return Verdict(message, Outcome.FAILED, changed, verdict.snapshot)
        elif verdict.outcome in (Outcome.COVERED, Outcome.ALREADY_SYNCED) and record is not None:
            owner.resolve(record)
    except PermanentError as error:  # Firestore refused this one write for good
        log.error("outcome_not_recorded", event_id=message.event_id, error=str(error))
    return verdict
