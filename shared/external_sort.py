"""Sort a stream larger than memory: sorted runs spilled to temporary files, then merged."""

from __future__ import annotations

import heapq
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
DEFAULT_RUN_SIZE = 100_000


def sorted_stream(
    items: Iterable[T],
    *,
    key: Callable[[T], Any],
    dump: Callable[[T], str],
    load: Callable[[str], T],
    run_size: int = DEFAULT_RUN_SIZE,
) -> Iterator[T]:
    """Yield `items` in `key` order, holding at most `run_size` of them in memory.

    Up to `run_size` items are sorted in memory with no disk use. Beyond that,
    each full run is sorted and written (one `dump` line per item) to a private
    temporary folder (mode 0700), and the runs are merged lazily; the folder is
    deleted when the iterator is exhausted or closed. `dump` must not emit
    newlines. Stable: equal keys keep their input order.
    """
    if run_size < 1:
        raise ValueError("run_size must be at least 1")
    with tempfile.TemporaryDirectory(prefix="session-sync-sort-") as folder:
        runs: list[Path] = []
        run: list[T] = []
        for item in items:
            if len(run) >= run_size:
                runs.append(_spill(sorted(run, key=key), Path(folder), len(runs), dump))
                run = []
            run.append(item)
        run.sort(key=key)
        if not runs:
            yield from run
            return
        if run:
            runs.append(_spill(run, Path(folder), len(runs), dump))
        del run
        with ExitStack() as files:
            streams = [
                (load(line) for line in files.enter_context(path.open(encoding="utf-8")))
                for path in runs
            ]
            yield from heapq.merge(*streams, key=key)


def _spill(run: list[T], folder: Path, number: int, dump: Callable[[T], str]) -> Path:
    path = folder / f"run-{number:05d}.jsonl"
    with path.open("w", encoding="utf-8") as file:
        file.writelines(dump(item) + "\n" for item in run)
    return path
