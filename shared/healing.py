"""What the self-healing jobs (redrive, scheduled reconcile) work with."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.contract import SessionCompleted
from shared.ports import Publisher, RowReader
from shared.sync import SyncPorts

PUBLISH_BATCH = 1000  # messages per publish round trip: the API's maximum


@dataclass(frozen=True)
class HealingPorts:
    """The sync ports plus the main topic and, for the reconcile, the BigQuery reader."""

    sync: SyncPorts
    publisher: Publisher
    rows: RowReader


def publish_all(publisher: Publisher, messages: Iterable[SessionCompleted]) -> int:
    """Publish in batches of `PUBLISH_BATCH`; return how many went out.

    Raises `TransientError` from the publisher (earlier batches stay published).
    """
    sent = 0
    batch: list[SessionCompleted] = []
    for message in messages:
        batch.append(message)
        if len(batch) == PUBLISH_BATCH:
            sent += _publish(publisher, batch)
            batch = []
    return sent + _publish(publisher, batch)


def _publish(publisher: Publisher, batch: Sequence[SessionCompleted]) -> int:
    if batch:
        publisher.publish(batch)
    return len(batch)
