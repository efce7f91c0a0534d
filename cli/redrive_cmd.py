"""`session-sync redrive`: run one redrive round now, as the scheduler does every few minutes."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli import exits
from cli.console import Console
from cli.failures_cmd import record_json
from shared.bootstrap import build_healing_ports
from shared.healing import HealingPorts
from shared.redrive import redrive
from shared.settings import load_settings


def register(commands: Any) -> None:
    """Add `redrive` to the command parser."""
    parser = commands.add_parser(
        "redrive",
        help="send abandoned failure episodes back through the topic now (the scheduled job)",
        description=(
            "Run one round of the redrive the scheduler runs every few minutes: abandon"
            " pending episodes whose retry task is gone (with the alert), make final those"
            " older than the retention window, sync one due episode here as a probe and, if"
            " BigQuery took its row, publish the other due episodes to the main topic"
            " (origin=redrive). Needs the salt (the probe syncs). It acts only on the"
            " pipeline's own episodes, so it asks no confirmation. Exit 0 when the round"
            " ran (or nothing was due), 1 when the probe found BigQuery still failing or a"
            " dependency failed, 2 on usage errors."
        ),
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="run even while earlier failed rounds say to wait",
    )
    parser.add_argument(
        "--limit", type=int, metavar="N", help="act on at most N due episodes (default 10,000)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list the due episodes (JSON lines on stdout) and change nothing",
    )
    parser.add_argument("--json", action="store_true", help="print the round's report as JSON")
    parser.set_defaults(handler=exits.guarded("redrive", run))


def run(args: argparse.Namespace) -> int:
    """Entry point: validate, build the real adapters, run the round."""
    if args.limit is not None and args.limit < 1:
        raise exits.UsageError("--limit must be at least 1")
    ports = build_healing_ports(load_settings())
    if args.dry_run:
        return list_due(ports, Console(), limit=args.limit)
    return redrive_now(ports, Console(), force=args.force, limit=args.limit, as_json=args.json)


def redrive_now(
    ports: HealingPorts, console: Console, *, force: bool, limit: int | None, as_json: bool
) -> int:
    """One round; the report on stdout. Exit 1 when the probe found BigQuery failing."""
    report = redrive(ports, force=force, limit=limit)
    if as_json:
        console.emit(json.dumps(report.as_json()))
    elif report.waiting_until is not None and report.due == 0:
        console.emit(
            f"redrive: waiting until {report.waiting_until.isoformat()} after failed rounds"
            " (--force runs now)"
        )
    else:
        console.emit(
            f"redrive: {report.due} due, {report.abandoned} abandoned (task gone),"
            f" {report.finalized} final, probe {report.probe}, {report.redriven} redriven"
        )
    return exits.FAILED if report.probe.startswith("failed") else exits.OK


def list_due(ports: HealingPorts, console: Console, *, limit: int | None) -> int:
    """Print the episodes the next round would act on, one JSON object a line."""
    sync = ports.sync
    now = sync.clock()
    count = 0
    for record in sync.failures.due(
        now=now,
        stuck_before=now - sync.policy.stuck_after,
        limit=limit or sync.policy.round_limit,
    ):
        console.emit(json.dumps(record_json(record)))
        count += 1
    console.say(f"redrive: {count} episode(s) due (dry run, nothing changed)")
    return exits.OK
