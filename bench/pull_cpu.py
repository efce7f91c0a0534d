"""Child process of the CPU benchmark: pull N messages with `PullRunner`, report its own CPU.

CPU comes from `resource.getrusage(RUSAGE_SELF)` (every thread of this
process), sampled once the first `--warmup` messages are acknowledged and
again at `--count`, so start-up and the first connections are left out.
Prints one JSON object. Usage (by bench.worker_cpu):
python -m bench.pull_cpu --subscription S --batch-size B --count N --warmup W
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import threading
import time

from shared.logging import configure_logging
from shared.settings import load_settings
from sync_worker.bootstrap import build_pull_runner
from sync_worker.pull import PullRunner


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _watch(
    runner: PullRunner, warmup: int, count: int, samples: dict[str, float], stop: threading.Event
) -> None:
    while runner.stats.acked < warmup:
        time.sleep(0.005)
    samples["cpu_start"], samples["wall_start"] = cpu_seconds(), time.perf_counter()
    samples["acked_start"] = runner.stats.acked
    while runner.stats.acked < count:
        time.sleep(0.005)
    samples["cpu_end"], samples["wall_end"] = cpu_seconds(), time.perf_counter()
    samples["acked_end"] = runner.stats.acked
    stop.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscription", required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    args = parser.parse_args()
    runner = build_pull_runner(
        load_settings(), subscription=args.subscription, batch_size=args.batch_size
    )
    configure_logging("ERROR", io.StringIO())  # after the bootstrap, which configures stderr
    samples: dict[str, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(
        target=_watch, args=(runner, args.warmup, args.count, samples, stop), daemon=True
    )
    watcher.start()
    stats = runner.run(stop=stop)
    watcher.join()
    print(
        json.dumps(
            {
                "cpu_seconds": samples["cpu_end"] - samples["cpu_start"],
                "sessions": samples["acked_end"] - samples["acked_start"],
                "wall_seconds": samples["wall_end"] - samples["wall_start"],
                "batches": stats.batches,
                "acked": stats.acked,
                "outcomes": dict(stats.outcomes),
            }
        )
    )


if __name__ == "__main__":
    main()
