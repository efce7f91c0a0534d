"""The scheduled reconcile: find and repair what never reached the pipeline, no operator needed.

Completion events can be lost before the pipeline sees them (a trigger outage
longer than Eventarc's retry window; locally, any trigger outage). Once a day
(terraform's schedule) the sessions that started within the recent window are
compared with `sessions_latest`; missing and stale sessions, and invalid
documents nothing recorded, are replayed through the main topic. Sessions with
an open failure episode (`failed`, `abandoned`) are left to the redrive.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from shared.contract import SessionCompleted
from shared.healing import HealingPorts, publish_all
from shared.logging import get_logger
from shared.model import SessionKey, SyncStatus
from shared.reconcile import REPAIRABLE, Freshness, bigquery_entries, compare, firestore_entries

log = get_logger("reconcile")

SCAN_PAGE_SIZE = 2000
_EPISODE_STATUSES = (SyncStatus.FAILED.value, SyncStatus.ABANDONED.value)


@dataclass
class ReconcileRound:
    """What one scheduled reconcile found and replayed."""

    since: datetime
    until: datetime
    counts: Counter[str] = field(default_factory=Counter)
    replayed: int = 0
    left_to_episodes: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "counts": dict(self.counts),
            "replayed": self.replayed,
            "left_to_episodes": self.left_to_episodes,
        }


def reconcile_recent(ports: HealingPorts) -> ReconcileRound:
    """Compare the sessions that started in the recent window; replay what needs it.

    Raises `TransientError` when Firestore, BigQuery or Pub/Sub fails (the
    next scheduled run tries again; replays already published stay).
    """
    sync = ports.sync
    until = sync.clock()
    since = until - sync.policy.reconcile_window
    report = ReconcileRound(since, until)
    firestore = firestore_entries(
        sync.sessions, sync.pseudonymizer, since=since, until=until, page_size=SCAN_PAGE_SIZE
    )
    bigquery = bigquery_entries(ports.rows, since=since, until=until)
    freshness = Freshness(
        started=until.timestamp(), grace=sync.policy.reconcile_grace.total_seconds()
    )
    repairs: list[SessionKey] = []
    for comparison in compare(firestore, bigquery, freshness=freshness):
        report.counts[comparison.finding.value] += 1
        key = comparison.session_key
        if comparison.finding not in REPAIRABLE or key is None:
            continue
        if comparison.sync_status in _EPISODE_STATUSES:
            report.left_to_episodes += 1
        else:
            repairs.append(key)
    report.replayed = publish_all(
        ports.publisher,
        (SessionCompleted.new(key.user_id, key.session_id, origin="replay") for key in repairs),
    )
    log.info("reconcile_round", **report.as_json())
    return report
