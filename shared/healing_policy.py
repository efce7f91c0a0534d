"""The slow tier's schedule: when failed episodes are redriven, reconciled and given up.

Cloud Tasks' retries (`shared/queue_policy.py`) are the fast tier; they are spent
within minutes. This policy governs what happens after: redrive rounds, how far
apart they are spaced, and when an episode becomes final. Every duration is
multiplied by `time_scale` (1 in the cloud; the local stack compresses time, so
tests see the real schedule in seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

HOUR = 3600.0
MIN_GRACE_SECONDS = 10.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class HealingPolicy:
    """Redrive and reconcile timings, in unscaled seconds."""

    redrive_every_seconds: float = 300.0  # the scheduler's tick (terraform: */5 * * * *)
    first_redrive_seconds: float = 300.0  # an abandoned episode waits this long first
    max_episode_spacing_seconds: float = 6 * HOUR
    max_round_spacing_seconds: float = HOUR
    stuck_after_seconds: float = HOUR  # a pending episode not touched for this long has no task
    retention_seconds: float = 7 * DAY  # Pub/Sub's retention: after it, an episode is final
    reconcile_every_seconds: float = DAY  # terraform: 0 3 * * *
    reconcile_window_seconds: float = 72 * HOUR
    reconcile_grace_seconds: float = 120.0  # a session written this recently may be in flight
    round_limit: int = 10_000  # episodes redriven per round at most
    time_scale: float = 1.0

    def scaled(self, seconds: float) -> timedelta:
        """A policy duration as real time."""
        return timedelta(seconds=seconds * self.time_scale)

    def episode_spacing(self, redrives: int) -> timedelta:
        """Wait before an episode's next redrive, after `redrives` earlier ones (doubling)."""
        seconds = self.first_redrive_seconds * 2.0 ** min(redrives, 32)
        return self.scaled(min(seconds, self.max_episode_spacing_seconds))

    def round_spacing(self, failed_rounds: int) -> timedelta:
        """Wait before the next round after `failed_rounds` rounds in a row found BigQuery down."""
        seconds = self.redrive_every_seconds * 2.0 ** min(failed_rounds, 32)
        return self.scaled(min(seconds, self.max_round_spacing_seconds))

    @property
    def stuck_after(self) -> timedelta:
        return self.scaled(self.stuck_after_seconds)

    @property
    def retention(self) -> timedelta:
        return self.scaled(self.retention_seconds)

    @property
    def reconcile_window(self) -> timedelta:
        return self.scaled(self.reconcile_window_seconds)

    @property
    def reconcile_grace(self) -> timedelta:
        """In-flight grace; delivery takes real seconds whatever the scale, hence the floor."""
        return max(self.scaled(self.reconcile_grace_seconds), timedelta(seconds=MIN_GRACE_SECONDS))


def healing_policy(
    *, retention_hours: float, reconcile_window_hours: float, time_scale: float
) -> HealingPolicy:
    """The policy with the settings' retention, reconcile window and time scale."""
    return HealingPolicy(
        retention_seconds=retention_hours * HOUR,
        reconcile_window_seconds=reconcile_window_hours * HOUR,
        time_scale=time_scale,
    )
