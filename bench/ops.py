"""Tallies of billable operations per actor while the pipeline runs (thread-safe).

The operation names are those of `cli.cost.operations`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping


class Ops:
    """A tally of operations by actor (`trigger`, `sync_worker`, ...); safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, float]] = {}

    def add(self, actor: str, operation: str, amount: float = 1) -> None:
        """Count `amount` more of `operation` done by `actor`."""
        with self._lock:
            counts = self._counts.setdefault(actor, {})
            counts[operation] = counts.get(operation, 0.0) + amount

    def reset(self) -> None:
        """Forget everything counted so far (between a scenario's setup and its run)."""
        with self._lock:
            self._counts.clear()

    def by_actor(self) -> dict[str, dict[str, float]]:
        """A copy of the tallies: actor -> operation -> amount."""
        with self._lock:
            return {actor: dict(counts) for actor, counts in self._counts.items()}

    def totals(self, actors: Iterable[str] | None = None) -> dict[str, float]:
        """Every operation summed over `actors` (all when None)."""
        chosen = self.by_actor()
        wanted = set(actors) if actors is not None else set(chosen)
        total: dict[str, float] = {}
        for actor, counts in chosen.items():
            if actor in wanted:
                for operation, amount in counts.items():
                    total[operation] = total.get(operation, 0.0) + amount
        return total

    def get(self, actor: str, operation: str) -> float:
        with self._lock:
            return self._counts.get(actor, {}).get(operation, 0.0)


def per_session(totals: Mapping[str, float], sessions: int) -> dict[str, float]:
    """Totals divided by the number of sessions the run synced."""
    return {operation: amount / sessions for operation, amount in totals.items()}
