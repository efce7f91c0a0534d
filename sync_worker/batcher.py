"""Coalesce concurrent requests into one batch call; each caller still gets its own result."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Batch(Generic[Item, Result]):
    def __init__(self) -> None:
        self.items: list[Item] = []
        self.futures: list[Future[Result]] = []
        self.full = threading.Event()


class MicroBatcher(Generic[Item, Result]):
    """Collects items submitted from many threads for `window` seconds or `max_size` items.

    The first caller of a batch waits for the window, then runs `process` on the
    whole batch in its own thread; the others wait for their result. No
    background thread. `process` must return one result per item, in order; if
    it raises, every caller of that batch gets the exception.
    """

    def __init__(
        self,
        process: Callable[[Sequence[Item]], Sequence[Result]],
        *,
        window: float,
        max_size: int,
    ) -> None:
        self._process = process
        self._window = window
        self._max_size = max_size
        self._lock = threading.Lock()
        self._open: _Batch[Item, Result] | None = None

    def submit(self, item: Item) -> Result:
        """Add `item` to the open batch and block until that batch is processed."""
        future: Future[Result] = Future()
        with self._lock:
            batch = self._open
            leader = batch is None
            if batch is None:
                batch = self._open = _Batch()
            batch.items.append(item)
            batch.futures.append(future)
            if len(batch.items) >= self._max_size:
                self._open = None
                batch.full.set()
        if leader:
            batch.full.wait(self._window)
            with self._lock:
                if self._open is batch:
                    self._open = None
            self._run(batch)
        return future.result()

    def _run(self, batch: _Batch[Item, Result]) -> None:
        try:
            results = self._process(batch.items)
            if len(results) != len(batch.items):
                raise RuntimeError("batch processor returned a result count that does not match")
        except BaseException as error:
            for future in batch.futures:
                future.set_exception(error)
            return
        for future, result in zip(batch.futures, results, strict=True):
            future.set_result(result)
