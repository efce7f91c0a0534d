"""`session-sync worker pull`: run the sync worker from a streaming-pull subscription."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from shared.settings import load_settings


def register(commands: Any) -> None:
    worker = commands.add_parser(
        "worker", help="run a pipeline worker in the foreground", description="Run a worker."
    )
    modes = worker.add_subparsers(dest="mode", metavar="MODE", required=True)
    pull = modes.add_parser(
        "pull",
        help="sync messages from a streaming-pull subscription, in large batches",
        description=(
            "Run the sync worker's handler on a streaming-pull subscription with flow "
            "control and batching: the bulk path for large replays. Use a subscription "
            "that the push subscription does not share a topic with, or messages are "
            "handled twice (harmlessly, but wastefully)."
        ),
    )
    pull.add_argument("--subscription", help="subscription id (default: PUBSUB_PULL_SUBSCRIPTION)")
    pull.add_argument("--batch-size", type=int, help="messages per batch (default: BATCH_MAX_ROWS)")
    pull.add_argument(
        "--concurrency", type=int, default=2, help="batches processed at once (default 2)"
    )
    pull.add_argument(
        "--idle-exit",
        type=float,
        metavar="SECONDS",
        help="stop after this many seconds without a message (default: run until Ctrl-C)",
    )
    pull.set_defaults(handler=run_pull)


def run_pull(args: argparse.Namespace) -> int:
    from sync_worker.bootstrap import build_pull_runner

    settings = load_settings()
    batch_size = args.batch_size or settings.batch_max_rows
    if batch_size < 1 or args.concurrency < 1:
        print(
            "session-sync worker pull: --batch-size and --concurrency must be >= 1", file=sys.stderr
        )
        return 2
    runner = build_pull_runner(
        settings,
        subscription=args.subscription or settings.pull_subscription,
        batch_size=batch_size,
        concurrency=args.concurrency,
    )
    try:
        stats = runner.run(idle_exit=args.idle_exit)
    except KeyboardInterrupt:
        stats = runner.stats
    summary = {
        "handled": stats.handled,
        "acked": stats.acked,
        "nacked": stats.nacked,
        "batches": stats.batches,
        "outcomes": dict(stats.outcomes),
    }
    print(json.dumps(summary))
    return 0 if stats.nacked == 0 else 1
