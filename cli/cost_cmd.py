"""`session-sync cost`: a month of the pipeline per service, beside the extension's design."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli import exits
from cli.console import Console
from cli.cost.counts import load_counts
from cli.cost.extension import ExtensionAssumptions
from cli.cost.model import estimate
from cli.cost.ours import Assumptions
from cli.cost.prices import load_prices
from cli.cost.render import render_json, render_text
from cli.cost.workload import REQUEST_LOG_BYTES, Workload


def _count(text: str) -> int:
    value = int(text.replace(",", "").replace("_", ""))
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _amount(text: str) -> float:
    value = float(text.replace(",", "").replace("_", ""))
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _share(text: str) -> float:
    value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share between 0 and 1 (or 0-100%)")
    return value


def register(commands: Any) -> None:
    """Add `cost` to the command parser."""
    parser = commands.add_parser(
        "cost",
        help="estimate the monthly cost per service, beside the Firestore-to-BigQuery extension",
        description=(
            "Price a month of completed sessions for this pipeline and, for the same workload,"
            " for the 'Stream Firestore to BigQuery' extension's design: cost per service, the"
            " dominant and largest terms, what the trigger's re-firing on the workers' status"
            " writes costs, and the per-session counts used (measured on the local stack,"
            " cli/cost/counts.json) with list prices (cli/cost/prices.json, each with its source"
            " and date). Free tiers are not subtracted. Exit 0, or 2 on usage errors."
        ),
    )
    parser.add_argument(
        "--sessions-per-day", type=_amount, required=True, metavar="N", help="completed sessions"
    )
    parser.add_argument(
        "--failure-rate",
        type=_share,
        default=0.0,
        metavar="R",
        help="share of inserts BigQuery refuses once, resolved by one retry (0.01 or 1%%)",
    )
    parser.add_argument(
        "--backfill", type=_count, default=0, metavar="M", help="sessions backfilled this month"
    )
    parser.add_argument(
        "--replay", type=_count, default=0, metavar="M", help="sessions replayed this month"
    )
    parser.add_argument(
        "--abandoned",
        type=_count,
        default=0,
        metavar="M",
        help="sessions an outage longer than the retries leaves to the redrive this month",
    )
    parser.add_argument(
        "--updates-per-session",
        type=_amount,
        default=2.0,
        metavar="U",
        help="app writes to a session between creating and completing it (default 2)",
    )
    parser.add_argument(
        "--history-months",
        type=_amount,
        default=12.0,
        metavar="H",
        help="months of rows the daily reconcile's query scans (default 12)",
    )
    parser.add_argument(
        "--request-log-bytes",
        type=_amount,
        default=REQUEST_LOG_BYTES,
        metavar="B",
        help="size of the platform's log entry per request, both designs (0: excluded)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=exits.guarded("cost", run))


def run(args: argparse.Namespace) -> int:
    """Entry point: the packaged prices and counts, the workload from the arguments."""
    try:
        workload = Workload(
            sessions_per_day=args.sessions_per_day,
            failure_rate=args.failure_rate,
            backfill=args.backfill,
            replays=args.replay,
            abandoned=args.abandoned,
            updates_per_session=args.updates_per_session,
            history_months=args.history_months,
        )
    except ValueError as error:
        raise exits.UsageError(str(error)) from None
    result = estimate(
        workload,
        load_counts(),
        load_prices(),
        assumptions=Assumptions(request_log_bytes=args.request_log_bytes),
        extension=ExtensionAssumptions(request_log_bytes=args.request_log_bytes),
    )
    console = Console()
    if args.json:
        console.emit(json.dumps(render_json(result), indent=2))
    else:
        console.emit(render_text(result))
    return exits.OK
