"""The Cloud Tasks retry policy of the ticket's queue.yaml, shared by code and terraform checks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueuePolicy:
    """Dispatch rate and retry schedule of `bigquery-sync-queue`."""

    max_dispatches_per_second: float = 10.0
    max_retries: int = 10
    min_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 3600.0
    max_doublings: int = 5

    def backoff_seconds(self, retry: int) -> float:
        """Delay before retry number `retry` (1-based), as Cloud Tasks computes it."""
        doublings = min(retry - 1, self.max_doublings)
        linear = max(retry - 1 - self.max_doublings, 0)
        step = self.min_backoff_seconds * float(2**doublings)
        delay = step + linear * self.min_backoff_seconds * float(2**self.max_doublings)
        return min(delay, self.max_backoff_seconds)


def queue_policy(max_retries: int) -> QueuePolicy:
    """The ticket's policy with the retry count taken from settings (`SYNC_MAX_RETRIES`)."""
    return QueuePolicy(max_retries=max_retries)
