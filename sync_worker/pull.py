"""Streaming-pull mode for bulk replays: the same handler as push, in large batches."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.logging import get_logger
from sync_worker.handler import Delivery, Handled

log = get_logger("sync_worker.pull")


@dataclass
class PullStats:
    """What a pull run did: deliveries handled by outcome, acks and nacks."""

    outcomes: Counter[str] = field(default_factory=Counter)
    acked: int = 0
    nacked: int = 0
    batches: int = 0

    @property
    def handled(self) -> int:
        return self.acked + self.nacked


class PullRunner:
    """Collects streamed messages into batches of up to `batch_size` (or `window` seconds).

    The subscriber's callback only enqueues; one loop thread runs `handle` on
    each batch and acks or nacks every message by its outcome. Flow control
    keeps at most `2 * batch_size` messages leased.
    """

    def __init__(
        self,
        subscriber: Any,
        subscription_path: str,
        handle: Callable[[Sequence[Delivery]], list[Handled]],
        *,
        batch_size: int,
        window: float,
    ) -> None:
        self._subscriber = subscriber
        self._subscription_path = subscription_path
        self._handle = handle
        self._batch_size = batch_size
        self._window = window
        self._inbox: queue.Queue[Any] = queue.Queue()
        self.stats = PullStats()

    def run(
        self, *, idle_exit: float | None = None, stop: threading.Event | None = None
    ) -> PullStats:
        """Pull until `stop` is set, or `idle_exit` seconds pass with no message."""
        from google.cloud.pubsub_v1.types import FlowControl

        stop = stop or threading.Event()
        flow = FlowControl(max_messages=2 * self._batch_size)
        future = self._subscriber.subscribe(
            self._subscription_path, self._inbox.put, flow_control=flow
        )
        last_message = time.monotonic()
        try:
            while not stop.is_set():
                batch = self._collect()
                if batch:
                    self._process(batch)
                    last_message = time.monotonic()
                elif idle_exit is not None and time.monotonic() - last_message > idle_exit:
                    break
        finally:
            future.cancel()
            with contextlib.suppress(Exception):  # cancelled: wait for the stream to close
                future.result(timeout=30)
        return self.stats

    def _collect(self) -> list[Any]:
        try:
            batch = [self._inbox.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self._window
        while len(batch) < self._batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._inbox.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _process(self, batch: list[Any]) -> None:
        deliveries = [Delivery(m.data, dict(m.attributes), m.message_id) for m in batch]
        try:
            results = self._handle(deliveries)
        except Exception as error:  # an unexpected bug: let Pub/Sub redeliver the batch
            log.exception("pull_batch_failed", error=str(error), count=len(batch))
            results = [Handled(False, "error")] * len(batch)
        for message, result in zip(batch, results, strict=True):
            if result.ack:
                message.ack()
                self.stats.acked += 1
            else:
                message.nack()
                self.stats.nacked += 1
            self.stats.outcomes[result.outcome] += 1
        self.stats.batches += 1
