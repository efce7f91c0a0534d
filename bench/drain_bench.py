"""How fast the redrive drains the episodes an outage left: 10,000 by default.

It leaves N completed sessions abandoned after a (simulated) outage: session
status `abandoned`, record `abandoned` and due. Then one redrive round runs, as
the scheduler would, and the sync worker takes the redriven messages in pull
mode (the bulk path: on GCP the push subscription scales out instead; the local
Pub/Sub emulator pushes only a few messages at a time). It prints the round's
time and the time until every episode is resolved, beside what the retry
queue's 10 dispatches/s would take.

Usage: PIPELINE_MODE=local python -m bench.drain_bench [--episodes 10000]
The stack must be up (`make local-up`); the benchmark empties it first.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

from google.cloud.firestore_v1.base_query import FieldFilter

from bench.quiet import log_to_file
from cli.local.stack import LocalStack
from cli.local.wiring import set_push
from cli.sample_data import completed, generate_sessions, write_sessions
from shared.bootstrap import build_healing_ports
from shared.contract import SessionCompleted
from shared.episodes import failure_record
from shared.gcp.clients import firestore_client
from shared.gcp.firestore_failures import COLLECTION, record_fields
from shared.model import FailureStatus
from shared.queue_policy import QueuePolicy
from shared.redrive import redrive
from shared.settings import Settings, load_settings
from sync_worker.bootstrap import build_pull_runner

WRITE_BATCH = 400


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500, help="pull batch size")
    args = parser.parse_args()
    settings = load_settings()
    stack = LocalStack(settings)
    if not stack.status().healthy:
        sys.exit("the local stack is not running: make local-up")
    stack.reset()
    log = log_to_file(settings, "bench")
    print(f"drain: leaving {args.episodes} episodes abandoned after an outage (logs in {log})")
    stack.stop_service("scheduler")  # the round below is the redrive; nothing else runs it
    stack.stop_service("trigger")  # the seeded documents are not completions to publish
    try:
        _seed(settings, args.episodes)
        stack.up()
        stack.stop_service("scheduler")
        _drain(settings, args.episodes, args.batch_size)
    finally:
        set_push(settings, push=True)  # `_drain` made the push subscription a pull one
        stack.up()


def _seed(settings: Settings, count: int) -> None:
    sessions = list(generate_sessions(count, seed=91))
    started = time.perf_counter()
    write_sessions(
        firestore_client(settings),
        sessions,
        lambda s: {**completed(s.document), "bigquerySyncStatus": "abandoned"},
    )
    due = datetime.now(UTC) - timedelta(seconds=1)
    client = firestore_client(settings)
    collection = client.collection(COLLECTION)
    for start in range(0, count, WRITE_BATCH):
        batch = client.batch()
        for session in sessions[start : start + WRITE_BATCH]:
            message = SessionCompleted(session.user_id, session.session_id, f"drain-{session.key}")
            record = failure_record(message, "outage", settings.bq_table)
            fields = {
                **record_fields(record),
                "status": FailureStatus.ABANDONED.value,
                "retryCount": 10,
                "nextRedriveAt": due,
            }
            batch.set(collection.document(record.record_id), fields)
        batch.commit()
    print(f"  seeded {count} sessions and records in {time.perf_counter() - started:.1f} s")


def _drain(settings: Settings, count: int, batch_size: int) -> None:
    set_push(settings, push=False)  # the bulk path drains it instead
    runner = build_pull_runner(
        settings, subscription=settings.push_subscription, batch_size=batch_size
    )
    done = threading.Event()
    puller = threading.Thread(target=runner.run, kwargs={"stop": done}, daemon=True)
    puller.start()
    started = time.perf_counter()
    report = redrive(build_healing_ports(settings), force=True, limit=count)
    round_seconds = time.perf_counter() - started
    print(
        f"  redrive round: {report.due} due, probe {report.probe}, {report.redriven} published"
        f" in {round_seconds:.1f} s ({report.redriven / round_seconds:.0f}/s)"
    )
    collection = firestore_client(settings).collection(COLLECTION)
    # An existence check, not a count: the emulator's count aggregation can answer with
    # one oversized HTTP/2 frame once the collection is large.
    left = collection.where(
        filter=FieldFilter("status", "==", FailureStatus.ABANDONED.value)
    ).limit(1)
    while list(left.stream()):
        if time.perf_counter() - started > 1800:
            print("  gave up: episodes still abandoned after 30 minutes")
            break
        time.sleep(1)
    elapsed = time.perf_counter() - started
    done.set()
    puller.join(timeout=60)
    queue_seconds = count / QueuePolicy().max_dispatches_per_second
    print(
        f"  all {count} episodes resolved {elapsed:.1f} s after the round began"
        f" ({count / elapsed:.0f} episodes/s); through the retry queue at"
        f" {QueuePolicy().max_dispatches_per_second:g}/s it would take {queue_seconds:.0f} s\n"
    )


if __name__ == "__main__":
    main()
