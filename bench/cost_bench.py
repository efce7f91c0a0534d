"""What a session costs: operations counted per path, and worker CPU per session.

Runs every path of `bench.cost_paths` through the functions served in this
process over counting adapters (see `bench.counted_functions`), then the CPU
figures of `bench.worker_cpu`. Prints figures only; asserts nothing about time.
`--write-counts` stores them in cli/cost/counts.json for `session-sync cost`.

Usage: PIPELINE_MODE=local python -m bench.cost_bench [--sessions 20] [--paths live,...]
       [--skip-cpu] [--write-counts]
The stack must be up (`make local-up`); the benchmark empties it first.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from bench.cost_paths import PATHS, run_paths
from bench.cost_report import cpu_table, operations_table
from bench.counted_functions import counted_pipeline
from bench.counts_file import write_counts
from bench.ops import Ops
from bench.worker_cpu import measure
from cli.local.stack import LocalStack
from shared.settings import load_settings


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=20, help="sessions per path")
    parser.add_argument(
        "--paths", default=",".join(PATHS), help=f"comma-separated, of: {', '.join(PATHS)}"
    )
    parser.add_argument("--skip-cpu", action="store_true", help="count operations only")
    parser.add_argument("--push-sessions", type=int, default=300, help="per push batch size")
    parser.add_argument(
        "--pull-sessions",
        default="300,400,2000",
        help="sessions for pull batch sizes 1, 40, 500",
    )
    parser.add_argument("--trigger-sessions", type=int, default=100)
    parser.add_argument("--write-counts", action="store_true", help="update cli/cost/counts.json")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    names = [name.strip() for name in args.paths.split(",") if name.strip()]
    unknown = sorted(set(names) - set(PATHS))
    if unknown:
        sys.exit(f"unknown path(s): {', '.join(unknown)}")
    stack = LocalStack(load_settings())
    if not stack.status().healthy:
        sys.exit("the local stack is not running: make local-up")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log lines
    print(f"machine: {os.cpu_count()} cores; local stack on 127.0.0.1\n")
    tally = Ops()
    with counted_pipeline(stack, tally) as pipeline:
        counts = run_paths(stack, pipeline, tally, args.sessions, names)
    print(f"Operations per session, {args.sessions} sessions per path (counted as they ran):")
    print(operations_table(counts), "\n")
    figures = []
    if not args.skip_cpu:
        pulls = [int(n) for n in args.pull_sessions.split(",")]
        figures = measure(
            stack,
            push_sessions=args.push_sessions,
            pull_sessions=pulls,
            trigger_sessions=args.trigger_sessions,
        )
        print("Worker CPU per synced session (process accounting, utime + stime):")
        print(cpu_table(figures), "\n")
    if args.write_counts:
        print(f"counts written to {write_counts(counts, figures)}")


if __name__ == "__main__":
    main()
