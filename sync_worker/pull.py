"""Streaming-pull mode for bulk replays: the same handler as push, in large batches."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shared.logging import get_logger
from sync_worker.handler import Delivery, Handled

log = get_logger("sync_worker.pull")
# Keep the stream fed even for tiny batches: acks reach the server in the client's own
# time, and a lease limit of one or two messages would stall on them.
MIN_LEASED_MESSAGES = 100


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

    The subscriber's callback only enqueues; the loop hands each batch to one of
    `concurrency` threads that run `handle` and ack or nack every message by its
    outcome, so one batch's BigQuery insert overlaps the next one's reads.
    Flow control keeps at most `(concurrency + 1) * batch_size` messages leased
    (at least `MIN_LEASED_MESSAGES`).
    """

    def __init__(
        self,
        subscriber: Any,
        subscription_path: str,
        handle: Callable[[Sequence[Delivery]], list[Handled]],
        *,
        batch_size: int,
        window: float,
        concurrency: int = 2,
    ) -> None:
        self._subscriber = subscriber
        self._subscription_path = subscription_path
        self._handle = handle
        self._batch_size = batch_size
        self._window = window
        self._concurrency = concurrency
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._stats_lock = threading.Lock()
        self.stats = PullStats()

    def run(
        self, *, idle_exit: float | None = None, stop: threading.Event | None = None
    ) -> PullStats:
        """Pull until `stop` is set, or `idle_exit` seconds pass with no message."""
        from google.cloud.pubsub_v1.types import FlowControl

        stop = stop or threading.Event()
        leased = max((self._concurrency + 1) * self._batch_size, MIN_LEASED_MESSAGES)
        flow = FlowControl(max_messages=leased)
        future = self._subscriber.subscribe(
            self._subscription_path, self._inbox.put, flow_control=flow
        )
        slots = threading.BoundedSemaphore(self._concurrency)
        last_message = time.monotonic()
        try:
            with ThreadPoolExecutor(self._concurrency, thread_name_prefix="pull-batch") as pool:
                while not stop.is_set():
                    batch = self._collect()
                    if batch:
                        slots.acquire()
                        pool.submit(self._process, batch).add_done_callback(
                            lambda _: slots.release()
                        )
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
            else:
                message.nack()
        with self._stats_lock:
            for result in results:
                self.stats.outcomes[result.outcome] += 1
                if result.ack:
                    self.stats.acked += 1
                else:
                    self.stats.nacked += 1
            self.stats.batches += 1
