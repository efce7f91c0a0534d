"""Pipeline benchmark on the local stack: prints figures, asserts nothing about time.

M1  bulk throughput of N completed sessions through pull mode with batching, against
    batch size 1, plus the raw capacity of each hop measured in the same run;
M2  live completion -> synced latency (p50/p95) of single completions through the
    trigger and the push subscription;
M3  import + bootstrap time of each entry point in a fresh interpreter.

Usage: PIPELINE_MODE=local python -m bench.pipeline_bench [--n 10000] [--n1 2000] [--m2 200]
The stack must be up (`make local-up`); the benchmark empties it first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from bench.quiet import log_to_file
from bench.subscriptions import fresh_subscription
from cli.local.stack import LocalStack
from cli.sample_data import completed, generate_sessions, write_sessions
from shared.bootstrap import build_sync_ports
from shared.contract import SessionCompleted
from shared.gcp.clients import firestore_client, publisher_client
from shared.gcp.pubsub_publisher import PubSubPublisher
from shared.model import SessionKey, StatusUpdate, StatusWrite, SyncStatus
from shared.rows import session_row
from shared.settings import Settings, load_settings
from sync_worker.bootstrap import build_pull_runner
from tests.e2e.harness import Pipeline, wait_for

BULK_TOPIC = "bench-bulk"
BATCH = 500


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000, help="M1 sessions, batched run")
    parser.add_argument("--n1", type=int, default=2_000, help="M1 sessions, batch-size-1 run")
    parser.add_argument("--m2", type=int, default=200, help="M2 single completions")
    parser.add_argument("--concurrency", type=int, default=2, help="M1 batches in flight")
    parser.add_argument("--only", choices=("m1", "m2", "m3"), help="run one measurement")
    args = parser.parse_args()
    settings = load_settings()
    stack = LocalStack(settings)
    if not stack.status().healthy:
        sys.exit("the local stack is not running: make local-up")
    log = log_to_file(settings, "bench")
    print(f"machine: {os.cpu_count()} cores; local stack on 127.0.0.1; pipeline logs in {log}\n")
    if args.only in (None, "m3"):
        m3_startup()
    if args.only in (None, "m2"):
        m2_live_latency(stack, args.m2)
    if args.only in (None, "m1"):
        m1_bulk(stack, args.n, args.n1, args.concurrency)


# --- M1 -----------------------------------------------------------------------------------


def m1_bulk(stack: LocalStack, n: int, n1: int, concurrency: int) -> None:
    settings = stack.settings
    stack.reset()
    print(f"M1 bulk: writing {n} completed sessions (trigger stopped, so only pull mode syncs)")
    stack.stop_service("trigger")
    try:
        keys, documents = _write_completed(settings, n)
    finally:
        stack.up()
    ports = build_sync_ports(settings)
    hops = _hop_capacities(settings, ports, keys[:BATCH], documents[:BATCH])
    client = publisher_client(settings, max_messages=BATCH)

    def run(batch_size: int, count: int, concurrency: int) -> float:
        messages = [
            # Replays: every one inserts (backfills of synced content would insert nothing).
            SessionCompleted.new(k.user_id, k.session_id, origin="replay")
            for k in keys[:count]
        ]
        with fresh_subscription(settings, BULK_TOPIC) as name:
            started = time.perf_counter()
            PubSubPublisher(client, settings.project, name).publish(messages)
            hops.setdefault("pubsub publish", count / (time.perf_counter() - started))
            runner = build_pull_runner(
                settings, subscription=name, batch_size=batch_size, concurrency=concurrency
            )
            done = threading.Event()
            watcher = threading.Thread(target=_stop_when, args=(runner, count, done))
            watcher.start()
            started = time.perf_counter()
            stats = runner.run(stop=done)
            elapsed = time.perf_counter() - started
            watcher.join()
        rate = stats.acked / elapsed
        print(
            f"  batch size {batch_size:>3}, {concurrency} in flight: {stats.acked} synced in"
            f" {elapsed:6.1f} s = {rate:7.0f} sessions/s  ({stats.batches} batches,"
            f" outcomes {dict(stats.outcomes)})"
        )
        return rate

    batched = run(BATCH, n, concurrency)
    single = run(1, n1, 1)
    slowest_name, slowest = min(hops.items(), key=lambda item: item[1])
    print("  raw capacity of each hop (same run, batches of 500 where the API batches):")
    for name, rate in sorted(hops.items(), key=lambda item: item[1]):
        print(f"    {name:<28} {rate:9.0f} /s")
    print(
        f"  M1 = {batched:.0f}/s; x{batched / single:.1f} the batch-size-1 figure (goal >= 5);"
        f" {batched / slowest:.2f} of the slowest hop, {slowest_name} (goal >= 0.6)\n"
    )


def _stop_when(runner: Any, count: int, done: threading.Event) -> None:
    while runner.stats.acked < count:
        time.sleep(0.05)
    done.set()


def _write_completed(settings: Settings, n: int) -> tuple[list[SessionKey], list[dict[str, Any]]]:
    sessions = list(generate_sessions(n, seed=77))
    documents = {session.key: completed(session.document) for session in sessions}
    write_sessions(firestore_client(settings), sessions, lambda session: documents[session.key])
    return list(documents), list(documents.values())


def _hop_capacities(
    settings: Settings, ports: Any, keys: Sequence[SessionKey], documents: Sequence[dict[str, Any]]
) -> dict[str, float]:
    now = datetime.now(UTC)
    rows = [
        session_row(k.user_id, k.session_id, d, pseudonymizer=ports.pseudonymizer, synced_at=now)
        for k, d in zip(keys, documents, strict=True)
    ]
    update = StatusUpdate(SyncStatus.SYNCED, event_id="bench-capacity")

    def transform() -> None:
        for key, document in zip(keys, documents, strict=True):
            session_row(
                key.user_id,
                key.session_id,
                document,
                pseudonymizer=ports.pseudonymizer,
                synced_at=now,
            )

    return {
        "firestore batch read": _rate(len(keys), lambda: ports.sessions.get_many(keys)),
        "transform+validate+hash": _rate(len(keys), transform),
        "bigquery insertAll": _rate(
            len(rows),
            lambda: ports.sink.insert({f"cap-{time.time_ns()}-{i}": r for i, r in enumerate(rows)}),
        ),
        "firestore batched write": _rate(
            len(keys),
            lambda: ports.sessions.write_statuses([StatusWrite(k, update, None) for k in keys]),
        ),
    }


def _rate(count: int, action: Callable[[], Any], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return count / best


# --- M2 -----------------------------------------------------------------------------------


def m2_live_latency(stack: LocalStack, count: int) -> None:
    stack.reset()
    pipeline = Pipeline(stack)
    latencies = []
    for _ in range(count):
        key, document = pipeline.new_session()
        committed = pipeline.document(key).set(completed(document)).update_time
        data = wait_for(
            lambda key=key: (d := pipeline.data(key)).get("bigquerySyncedAt") and d,
            timeout=30,
            what=f"{key} to sync",
        )
        latencies.append((data["bigquerySyncedAt"] - committed).total_seconds())
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=100, method="inclusive")[94]
    print(
        f"M2 live latency, {count} single completions (commit -> row inserted and status written):"
        f" p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
        " (goal p95 < 1 s)\n"
    )


# --- M3 -----------------------------------------------------------------------------------


def m3_startup(repeats: int = 5) -> None:
    print("M3 import + bootstrap of each entry point (fresh interpreter, median of 5):")
    probe = (
        "import time; t=time.perf_counter(); import functions_framework; f=time.perf_counter();"
        " import main; e=time.perf_counter(); print(f-t, e-f)"
    )
    base = {**os.environ, "PIPELINE_MODE": "local", "AUTH_DISABLED": "true"}
    for target, goal in (
        ("on_session_written", 0.5),
        ("sync_worker_push", 1.5),
        ("retry_worker_task", 1.5),
    ):
        framework, own = [], []
        for _ in range(repeats):
            output = subprocess.run(
                [sys.executable, "-c", probe],
                env={**base, "FUNCTION_TARGET": target},
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            framework.append(float(output[0]))
            own.append(float(output[1]))
        print(
            f"  {target:<20} main.py import + bootstrap {statistics.median(own):.3f} s"
            f" (goal < {goal} s); functions_framework itself {statistics.median(framework):.3f} s"
        )
    print()


if __name__ == "__main__":
    main()
