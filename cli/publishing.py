"""Publish `SessionCompleted` messages for selected sessions: batched, throttled, counted."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from cli.progress import Progress
from shared.contract import Origin, SessionCompleted
from shared.model import SessionKey
from shared.ports import Publisher

DEFAULT_BATCH = 500
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*s)?\s*$")


def parse_rate(text: str) -> float:
    """Parse `--rate` (`200/s` or `200`: messages per second, more than 0).

    Raises `argparse.ArgumentTypeError` (exit code 2) otherwise.
    """
    match = _RATE.match(text)
    rate = float(match.group(1)) if match else 0.0
    if rate <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a rate: give messages per second, e.g. 200/s"
        )
    return rate


class Throttle:
    """Spaces batches so that the average rate since the start stays at or below `rate`/s.

    `None` means no limit. Clock and sleep are injectable for tests.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._started: float | None = None
        self._sent = 0

    def batch_size(self, preferred: int) -> int:
        """At most one second's worth of messages per batch, so the pace stays smooth."""
        if self.rate is None:
            return preferred
        return max(1, min(preferred, int(self.rate)))

    def wait(self, count: int) -> None:
        """Sleep until `count` more messages may go, then count them as sent."""
        now = self._clock()
        if self._started is None:
            self._started = now
        if self.rate is not None:
            due = self._started + self._sent / self.rate
            if due > now:
                self._sleep(due - now)
        self._sent += count


class ListingPublisher:
    """A `Publisher` for dry runs: writes each message's session as a JSON line, publishes nothing.

    The lines are what `replay --file` reads.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout

    def publish(self, messages: Sequence[SessionCompleted]) -> list[str]:
        for message in messages:
            line = {"user_id": message.user_id, "session_id": message.session_id}
            self._stream.write(json.dumps(line, ensure_ascii=False) + "\n")
        self._stream.flush()
        return [message.event_id for message in messages]


class BatchPublisher:
    """Collects sessions and publishes one message each (fresh event id) per full batch.

    `pending` is how many added sessions are not yet published; after `flush()`
    every added session is. Raises `TransientError` from the publisher, with the
    earlier batches published and the current one possibly in part.
    """

    def __init__(
        self,
        publisher: Publisher,
        *,
        origin: Origin,
        throttle: Throttle,
        progress: Progress,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self._publisher = publisher
        self._origin = origin
        self._throttle = throttle
        self._progress = progress
        self._batch_size = throttle.batch_size(batch_size)
        self._batch: list[SessionCompleted] = []
        self.published = 0

    @property
    def pending(self) -> int:
        return len(self._batch)

    def add(self, key: SessionKey) -> None:
        """Queue one session; publishes the batch once it is full."""
        self._batch.append(SessionCompleted.new(key.user_id, key.session_id, origin=self._origin))
        if len(self._batch) >= self._batch_size:
            self.flush()

    def flush(self) -> None:
        """Publish what is queued and wait until Pub/Sub accepted every message."""
        if not self._batch:
            return
        self._throttle.wait(len(self._batch))
        self._publisher.publish(self._batch)
        self.published += len(self._batch)
        self._progress.advance(len(self._batch))
        self._batch = []
