"""The workload both designs are priced for: sessions a day, failures, backfills, history."""

from __future__ import annotations

from dataclasses import dataclass

DAYS_PER_MONTH = 30
SECONDS_PER_MONTH = DAYS_PER_MONTH * 86_400
APP_WRITES_BESIDE_UPDATES = 2  # the app creates the session (active), then completes it
# Estimates, not measured: the platform's request log entry per invocation, and what a log
# entry adds around the line a function writes (resource, labels, timestamps, ids).
REQUEST_LOG_BYTES = 1000.0
LOG_ENVELOPE_BYTES = 400.0


@dataclass(frozen=True)
class Workload:
    """A month of traffic.

    `failure_rate` is the share of inserts BigQuery refuses once (a transient
    failure the first retry resolves); `abandoned` sessions meet an outage
    longer than the fast tier and are redriven; `backfill` and `replays` are
    sessions sent by the operator commands this month. `updates_per_session`
    counts the app's writes between creating and completing a session: every
    one fires both designs' function. `history_months` is how much the
    `sessions` table holds when the daily reconcile queries it.
    """

    sessions_per_day: float
    failure_rate: float = 0.0
    backfill: int = 0
    replays: int = 0
    abandoned: int = 0
    updates_per_session: float = 2.0
    history_months: float = 12.0

    def __post_init__(self) -> None:
        if self.sessions_per_day < 0:
            raise ValueError("sessions per day must not be negative")
        if not 0 <= self.failure_rate <= 1:
            raise ValueError("the failure rate is a share between 0 and 1")
        if min(self.backfill, self.replays, self.abandoned, self.updates_per_session) < 0:
            raise ValueError("counts of sessions and updates must not be negative")
        if self.history_months < 0:
            raise ValueError("the history must not be negative")

    @property
    def sessions_per_month(self) -> float:
        return self.sessions_per_day * DAYS_PER_MONTH

    @property
    def app_writes_per_session(self) -> float:
        """Every write of the app to a session document: created, updates, completed."""
        return APP_WRITES_BESIDE_UPDATES + self.updates_per_session
