"""The slow tier: send abandoned episodes back through the main topic once BigQuery is back.

A round (run by the scheduler, or `session-sync redrive`):
1. waits while earlier rounds found BigQuery down (spacing doubles per failed round);
2. takes the due episodes: abandoned ones whose next redrive time came, and pending
   ones whose task is gone (untouched past the fast tier's budget: those are
   abandoned first, with the alert);
3. makes final (with an alert) the ones opened longer ago than Pub/Sub's retention;
4. syncs one episode in-process as the probe: only if BigQuery takes its row does the
   round go on;
5. publishes the rest to the main topic (origin `redrive`, same event id): the sync
   workers take them at their own pace, not the retry queue's 10/s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.contract import SessionCompleted
from shared.episodes import Mark
from shared.healing import PUBLISH_BATCH, HealingPorts
from shared.logging import get_logger
from shared.model import FailureRecord, FailureStatus
from shared.ports import RedriveState
from shared.sync import Outcome, SyncPorts, sync_sessions

log = get_logger("redrive")

PROBE_TRIES = 3  # episodes synced in-process until one reaches BigQuery
NO_TASK_LEFT = "no retry task left (its last attempt could not be recorded)"


@dataclass
class RedriveReport:
    """What one round did."""

    due: int = 0
    redriven: int = 0
    abandoned: int = 0  # pending episodes whose task was gone
    finalized: int = 0
    probe: str = "not needed"
    waiting_until: datetime | None = None  # set when the round was skipped
    probed: list[str] = field(default_factory=list)  # event ids synced in-process

    def as_json(self) -> dict[str, object]:
        return {
            "due": self.due,
            "redriven": self.redriven,
            "abandoned": self.abandoned,
            "finalized": self.finalized,
            "probe": self.probe,
            "waiting_until": self.waiting_until.isoformat() if self.waiting_until else None,
        }


def redrive(ports: HealingPorts, *, force: bool = False, limit: int | None = None) -> RedriveReport:
    """Run one round; `force` ignores the spacing after failed rounds. Idempotent per episode.

    Raises `TransientError` when Firestore or Pub/Sub fails (the next round retries).
    """
    sync = ports.sync
    policy = sync.policy
    now = sync.clock()
    failures = sync.failures
    state = failures.redrive_state()
    report = RedriveReport()
    if not force and state.next_round_at is not None and now < state.next_round_at:
        report.waiting_until = state.next_round_at
        return report
    due = list(
        failures.due(
            now=now, stuck_before=now - policy.stuck_after, limit=limit or policy.round_limit
        )
    )
    report.due = len(due)
    candidates = _live(due, sync, now, report)
    error = _probe(candidates, sync, report)
    if error is not None:
        failed = state.failed_rounds + 1
        waiting = now + policy.round_spacing(failed)
        failures.save_redrive_state(RedriveState(failed, waiting, error))
        report.probe, report.waiting_until = f"failed: {error}", waiting
        log.warning("redrive_waiting", error=error, failed_rounds=failed, until=waiting.isoformat())
        return report
    rest = [record for record in candidates if record.event_id not in report.probed]
    for start in range(0, len(rest), PUBLISH_BATCH):
        batch = rest[start : start + PUBLISH_BATCH]
        ports.publisher.publish([_message(record) for record in batch])
        report.redriven += sync.episodes.redriven(batch)
    if state.failed_rounds or state.next_round_at:
        failures.save_redrive_state(RedriveState())
    if report.due:
        log.info("redrive_round", **report.as_json())
    return report


def _live(
    due: Sequence[FailureRecord], sync: SyncPorts, now: datetime, report: RedriveReport
) -> list[FailureRecord]:
    """Finalize what outlived the retention, abandon what lost its task; the rest to redrive."""
    episodes = sync.episodes
    live: list[FailureRecord] = []
    stuck: list[FailureRecord] = []
    for record in due:
        if record.opened_at is not None and record.opened_at <= now - sync.policy.retention:
            report.finalized += episodes.finalize(record)
        elif record.status is FailureStatus.PENDING:
            if episodes.abandon(record, record.retry_count, NO_TASK_LEFT) is Mark.MARKED:
                report.abandoned += 1
                stuck.append(record)
        else:
            live.append(record)
    if stuck:  # abandoned just now: their new version is the precondition of the next change
        fresh = sync.failures.get_many([record.record_id for record in stuck])
        live.extend(record for record in fresh.values() if record.is_open)
    return live


def _probe(candidates: list[FailureRecord], sync: SyncPorts, report: RedriveReport) -> str | None:
    """Sync episodes in-process until one reaches BigQuery; its error if BigQuery refused it."""
    for record in candidates[:PROBE_TRIES]:
        [verdict] = sync_sessions([_message(record)], sync, records={record.event_id: record})
        report.probed.append(record.event_id)
        if verdict.outcome is Outcome.SYNCED:
            report.probe = "passed"
            return None
        if verdict.outcome is Outcome.FAILED:
            error = verdict.error or "transient failure"
            sync.episodes.redrive_failed(record, error)
            sync.episodes.redriven([_reread(record, sync)])
            return error
    if report.probed:
        report.probe = "inconclusive (nothing to insert), going on"
    return None


def _reread(record: FailureRecord, sync: SyncPorts) -> FailureRecord:
    return sync.failures.get(record.record_id) or record


def _message(record: FailureRecord) -> SessionCompleted:
    return SessionCompleted(record.user_id, record.session_id, record.event_id, "redrive")
