"""Failure episodes: the one owner of failure records and of the sessions' sync status.

An episode is what happens to one event (`event_id`) that could not be synced at
once. Its record in `bigquerySyncFailures` moves through these states; every
transition is a conditional write (the record's, or the session's, version as
read), so a stale writer becomes a no-op and re-decides on fresh data:

    (none) ──open──▶ pending ──retry failed──▶ pending
                     │   │  └──last retry failed / stuck──▶ abandoned ──redrive──▶ abandoned
                     │   └──────────sync covered it─────────▶ resolved ◀──┘
                     └──document invalid──▶ invalid          abandoned ──retention over──▶ final
    resolved / abandoned / invalid / final ──the event fails again──▶ pending (next generation)

The session's `bigquerySyncStatus` follows: `failed` while pending, `abandoned`,
`synced`, `invalid`. A session whose status is `synced` for the content it holds
now never moves back to `failed` or `abandoned`: the failing episode is
resolved instead (it is covered).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.contract import SessionCompleted
from shared.errors import TransientError
from shared.healing_policy import HealingPolicy
from shared.logging import get_logger
from shared.model import (
    OPEN_FAILURE_STATUSES,
    Enqueued,
    FailureRecord,
    FailureStatus,
    RecordChange,
    RetryTask,
    SessionKey,
    SessionSnapshot,
    Stamp,
    StatusUpdate,
    StatusWrite,
    SyncStatus,
    episode_id,
)
from shared.ports import FailureStore, RetryQueue, SessionStore

log = get_logger("episodes")

MAX_ATTEMPTS = 5  # re-decisions after a conflicting write before giving up (transient)
CHANGED_DURING_SYNC = "the session changed while it was being synced"
# Origins whose event asks for "the current content in BigQuery": any synced row of
# that content covers them. A replay asks for a fresh insert, covered only by a
# sync that happened after its episode opened.
_CONTENT_INTENT = ("trigger", "backfill")

Fingerprint = Callable[[SessionSnapshot], "str | None"]


class Mark(StrEnum):
    """What marking a session's status for an episode came to."""

    MARKED = "marked"
    COVERED = "covered"  # the session is synced with what the episode wanted: resolved
    STALE = "stale"  # the episode moved on meanwhile (another writer): nothing done


@dataclass(frozen=True)
class Inserted:
    """A message whose row, built from `snapshot`, is now in BigQuery."""

    message: SessionCompleted
    snapshot: SessionSnapshot
    fingerprint: str


def failure_record(message: SessionCompleted, reason: str, table: str) -> FailureRecord:
    """A new pending record of this message's episode (id derived from the event id)."""
    return FailureRecord(
        record_id=episode_id(message.event_id),
        user_id=message.user_id,
        session_id=message.session_id,
        event_id=message.event_id,
        failure_reason=reason,
        origin=message.origin,
        table=table,
    )


def is_covered(session: SessionSnapshot | None, record: FailureRecord, current: str | None) -> bool:
    """Whether BigQuery already holds what the episode wants, given the session's `current`
    content fingerprint: its event was synced, or the same content was, recently enough."""
    if session is None or session.sync_status != SyncStatus.SYNCED.value:
        return False
    if session.synced_event_id == record.event_id:
        return True
    if current is None or session.synced_fingerprint != current:
        return False
    if record.origin in _CONTENT_INTENT:
        return True
    synced_at, opened_at = session.synced_at, record.opened_at
    return synced_at is not None and opened_at is not None and synced_at >= opened_at


class Episodes:
    """Opens, retries, abandons, redrives, resolves and invalidates episodes; marks sessions."""

    def __init__(
        self,
        *,
        sessions: SessionStore,
        failures: FailureStore,
        table: str,
        fingerprint: Fingerprint,
        clock: Callable[[], datetime],
        policy: HealingPolicy,
    ) -> None:
        self._sessions = sessions
        self._failures = failures
        self._table = table
        self._fingerprint = fingerprint
        self._clock = clock
        self._policy = policy

    # -- outcomes of a sync ---------------------------------------------------------------

    def synced(
        self,
        inserted: Sequence[Inserted],
        *,
        retry_count: int | None = None,
        known: Sequence[FailureRecord] = (),
    ) -> dict[str, str]:
        """Mark sessions `synced` whose content is still what was inserted; resolve the episodes
        that sync covers (`known` ones at once, others found by a query). Returns the events
        whose session changed meanwhile (with a reason): their row is an older version, and
        they must be synced again.

        Raises `TransientError` when Firestore fails.
        """
        last = {item.snapshot.key: item for item in inserted}  # one status write per session
        changed: dict[str, str] = {}
        current: dict[SessionKey, SessionSnapshot | None] = {k: i.snapshot for k, i in last.items()}
        committed: dict[SessionKey, tuple[datetime, SessionSnapshot]] = {}
        for _ in range(MAX_ATTEMPTS):
            writes: dict[SessionKey, tuple[StatusWrite, SessionSnapshot]] = {}
            for key, snapshot in current.items():
                item = last[key]
                if snapshot is None:
                    continue  # deleted meanwhile: the row stays, there is nothing to mark
                if (
                    snapshot is not item.snapshot
                    and self._fingerprint(snapshot) != item.fingerprint
                ):
                    changed[item.message.event_id] = CHANGED_DURING_SYNC
                    continue
                update = StatusUpdate(
                    SyncStatus.SYNCED,
                    event_id=item.message.event_id,
                    retry_count=retry_count,
                    fingerprint=item.fingerprint,
                )
                writes[key] = (StatusWrite(key, update, snapshot.update_time), snapshot)
            results = self._sessions.write_statuses([w for w, _ in writes.values()])
            stale = []
            for key, result in results.items():
                if result.committed_at is not None:
                    committed[key] = (result.committed_at, writes[key][1])
                elif result.rejected is not None:
                    log.error(
                        "status_not_recorded", session_id=key.session_id, error=result.rejected
                    )
                else:
                    stale.append(key)
            if not stale:
                break
            current = self._sessions.get_many(stale)
        else:
            for key in current:
                changed[last[key].message.event_id] = CHANGED_DURING_SYNC
        for item in inserted:  # a session's other events of this batch share its fate
            if last[item.snapshot.key].message.event_id in changed:
                changed[item.message.event_id] = CHANGED_DURING_SYNC
        self._resolve_covered(committed, known, retry_count=retry_count)
        return changed

    def invalid(
        self, message: SessionCompleted, reason: str, snapshot: SessionSnapshot | None
    ) -> str | None:
        """Record the episode and the session as `invalid`. Idempotent.

        Returns a reason when the session's content changed meanwhile (then the
        message must be synced again), else None. Raises `TransientError`.
        """
        record = self._failures.create(
            dataclasses.replace(
                failure_record(message, reason, self._table), status=FailureStatus.INVALID
            )
        )
        for _ in range(MAX_ATTEMPTS):
            if record.status is FailureStatus.INVALID:
                break
            change = RecordChange(status=FailureStatus.INVALID, reason=reason, unschedule=True)
            if self._failures.update(record.record_id, change, expected=record.version):
                break
            record = self._reread(record)
        else:
            raise TransientError(f"failure record {record.record_id} kept changing")
        log.warning(
            "sync_invalid", event_id=message.event_id, session_id=message.session_id, reason=reason
        )
        session = snapshot
        for _ in range(MAX_ATTEMPTS):
            if session is None or snapshot is None:
                return None
            if session.content != snapshot.content:
                return CHANGED_DURING_SYNC
            update = StatusUpdate(SyncStatus.INVALID, error=reason)
            if not self._write(StatusWrite(session.key, update, session.update_time)):
                return None
            session = self._read(session.key)
        raise TransientError(f"session {message.session_id} kept changing")

    def resolve(self, record: FailureRecord, *, retry_count: int | None = None) -> None:
        """Close an open episode as `resolved` (its data is in BigQuery). Idempotent."""
        change = _resolution(retry_count)
        for _ in range(MAX_ATTEMPTS):
            if record.status not in OPEN_FAILURE_STATUSES:
                return
            if self._failures.update(record.record_id, change, expected=record.version):
                log.info("episode_resolved", event_id=record.event_id, session_id=record.session_id)
                return
            record = self._reread(record)
        raise TransientError(f"failure record {record.record_id} kept changing")

    def covered(self, session: SessionSnapshot | None, record: FailureRecord) -> bool:
        """Whether the session, as read, already holds what the episode wants."""
        current = self._fingerprint(session) if session is not None else None
        return is_covered(session, record, current)

    # -- the fast tier: a transient failure gets a retry task ----------------------------

    def defer(
        self,
        message: SessionCompleted,
        reason: str,
        queue: RetryQueue,
        *,
        snapshot: SessionSnapshot | None,
    ) -> Mark:
        """Open (or reopen) the episode, mark the session `failed`, and schedule a live retry.

        In that order, so the retry worker always finds the record and status it
        acts on. Returns `COVERED` when the session turned out synced with what
        the event wants (nothing scheduled). Never leaves the episode without a
        live task: a tombstoned task name starts the next generation. Raises
        `TransientError`: then nothing may be acknowledged.
        """
        record = self._open(message, reason)
        session = snapshot if snapshot is not None else self._read(record.key)
        mark = self._mark(record, SyncStatus.FAILED, reason, record.retry_count, session)
        if mark is not Mark.MARKED:
            return mark
        for _ in range(MAX_ATTEMPTS):
            task = RetryTask(
                message.user_id,
                message.session_id,
                message.event_id,
                self._table,
                record.origin,
                record.generation,
            )
            if queue.enqueue(task) is not Enqueued.TOMBSTONED:
                return Mark.MARKED
            log.warning("task_name_tombstoned", event_id=message.event_id, task=task.name)
            next_generation = RecordChange(generation=record.generation + 1, retry_count=0)
            record = self._apply(record, next_generation) or self._reread(record)
            if not record.is_open:
                return Mark.STALE
        raise TransientError(f"no free task name for episode {record.record_id}")

    def retry_failed(self, record: FailureRecord, retry_number: int, reason: str) -> Mark:
        """Count one more failed retry of a pending episode; the session stays `failed`."""
        session = self._read(record.key)
        if self.covered(session, record):
            self.resolve(record, retry_count=retry_number)
            return Mark.COVERED
        change = RecordChange(retry_count=retry_number, reason=reason, stamps=(Stamp.RETRIED,))
        updated = self._apply(record, change)
        if updated is None:
            return Mark.STALE
        return self._mark(updated, SyncStatus.FAILED, reason, retry_number, session)

    def abandon(self, record: FailureRecord, retry_count: int, reason: str) -> Mark:
        """End the fast tier: record and session `abandoned`, first redrive scheduled, alert.

        Used after the last retry, and by the redrive for a pending episode whose
        task is gone. Covered episodes are resolved instead.
        """
        session = self._read(record.key)
        if self.covered(session, record):
            self.resolve(record, retry_count=retry_count)
            return Mark.COVERED
        change = RecordChange(
            status=FailureStatus.ABANDONED,
            retry_count=retry_count,
            reason=reason,
            next_redrive_at=self._clock() + self._policy.episode_spacing(0),
        )
        updated = self._apply(record, change)
        if updated is None:
            return Mark.STALE
        mark = self._mark(updated, SyncStatus.ABANDONED, reason, retry_count, session)
        if mark is Mark.MARKED:
            log.error(
                "sync_abandoned",
                event_id=record.event_id,
                session_id=record.session_id,
                attempt=retry_count,
                reason=reason,
            )
        return mark

    # -- the slow tier: redrive ----------------------------------------------------------

    def redriven(self, records: Sequence[FailureRecord]) -> int:
        """Note that these episodes were sent through the topic again; space the next redrive."""
        now = self._clock()
        changes = [
            (
                record,
                RecordChange(
                    redrive_count=record.redrive_count + 1,
                    next_redrive_at=now + self._policy.episode_spacing(record.redrive_count + 1),
                    stamps=(Stamp.REDRIVEN,),
                ),
            )
            for record in records
        ]
        results = self._failures.update_many(
            [(record.record_id, change, record.version) for record, change in changes]
        )
        return sum(1 for committed in results.values() if committed is not None)

    def redrive_failed(self, record: FailureRecord, reason: str) -> None:
        """A redriven sync failed again: keep the reason; the spacing set at redrive stands."""
        if record.is_open:
            self._apply(record, RecordChange(reason=reason))

    def finalize(self, record: FailureRecord) -> bool:
        """After the retention window the episode is final (alert); returns whether it was."""
        change = RecordChange(unschedule=True, stamps=(Stamp.FINAL,))
        if self._apply(record, change) is None:
            return False
        log.error(
            "sync_final",
            event_id=record.event_id,
            session_id=record.session_id,
            reason=record.failure_reason,
        )
        return True

    # -- helpers ---------------------------------------------------------------------------

    def _open(self, message: SessionCompleted, reason: str) -> FailureRecord:
        """The pending record of this event's episode: created, kept, or a new generation."""
        record = self._failures.create(failure_record(message, reason, self._table))
        for _ in range(MAX_ATTEMPTS):
            if record.status is FailureStatus.PENDING and record.final_at is None:
                return record
            reopen = RecordChange(
                status=FailureStatus.PENDING,
                reason=reason,
                retry_count=0,
                generation=record.generation + 1,
                redrive_count=0,
                unschedule=True,
                stamps=(Stamp.OPENED,),
            )
            reopened = self._apply(record, reopen)
            if reopened is not None:
                log.info(
                    "episode_reopened", event_id=record.event_id, generation=reopened.generation
                )
                return reopened
            record = self._reread(record)
        raise TransientError(f"failure record {record.record_id} kept changing")

    def _mark(
        self,
        record: FailureRecord,
        status: SyncStatus,
        reason: str,
        retry_count: int,
        session: SessionSnapshot | None,
    ) -> Mark:
        """Write the session's `failed`/`abandoned` status unless the episode is covered."""
        for _ in range(MAX_ATTEMPTS):
            if session is None:
                return Mark.MARKED  # deleted: no status to write
            if self.covered(session, record):
                self.resolve(record, retry_count=retry_count)
                return Mark.COVERED
            update = StatusUpdate(status, error=reason, retry_count=retry_count)
            if not self._write(StatusWrite(session.key, update, session.update_time)):
                return Mark.MARKED
            session = self._read(session.key)
        raise TransientError(f"session {record.session_id} kept changing")

    def _resolve_covered(
        self,
        committed: dict[SessionKey, tuple[datetime, SessionSnapshot]],
        known: Sequence[FailureRecord],
        *,
        retry_count: int | None,
    ) -> None:
        """Resolve the open episodes of freshly synced sessions opened before the sync.

        The episodes the sync was for (a retry's, a redrive's) are known; for other
        sessions whose status was `failed`/`abandoned`, a query finds them. Another
        open episode of a session with a known one is left: its own retry or
        redrive finds it covered.
        """
        known_keys = {record.key for record in known}
        suspects = [
            key
            for key, (_, before) in committed.items()
            if key not in known_keys
            and before.sync_status in (SyncStatus.FAILED.value, SyncStatus.ABANDONED.value)
        ]
        found = self._failures.open_records(suspects) if suspects else []
        covered = [
            record
            for record in (*known, *found)
            if record.key in committed
            and record.status in OPEN_FAILURE_STATUSES
            and record.opened_at is not None
            and record.opened_at <= committed[record.key][0]
        ]
        if not covered:
            return
        change = _resolution(retry_count)
        results = self._failures.update_many([(r.record_id, change, r.version) for r in covered])
        for record in covered:
            if results.get(record.record_id) is None:  # changed meanwhile: decide again
                fresh = self._reread(record)
                synced_at = committed[record.key][0]
                if fresh.opened_at is not None and fresh.opened_at <= synced_at:
                    self.resolve(fresh, retry_count=retry_count)
        if covered:
            log.info("episodes_resolved", count=len(covered))

    def _apply(self, record: FailureRecord, change: RecordChange) -> FailureRecord | None:
        """Apply a change at the record's version; the record as it now is, or None if stale."""
        committed = self._failures.update(record.record_id, change, expected=record.version)
        if committed is None:
            return None
        return change.applied(record, committed)

    def _reread(self, record: FailureRecord) -> FailureRecord:
        fresh = self._failures.get(record.record_id)
        if fresh is None:
            raise TransientError(f"failure record {record.record_id} disappeared")
        return fresh

    def _read(self, key: SessionKey) -> SessionSnapshot | None:
        return self._sessions.get_many([key])[key]

    def _write(self, write: StatusWrite) -> bool:
        """Apply one conditional status write; True when the session had changed (stale)."""
        result = self._sessions.write_statuses([write])[write.key]
        if result.rejected is not None:
            log.error("status_not_recorded", session_id=write.key.session_id, error=result.rejected)
        return result.stale


def _resolution(retry_count: int | None) -> RecordChange:
    """The change that closes an episode as resolved."""
    return RecordChange(
        status=FailureStatus.RESOLVED,
        retry_count=retry_count,
        unschedule=True,
        stamps=(Stamp.RESOLVED,),
    )
