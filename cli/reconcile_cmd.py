"""`session-sync reconcile`: is every completed session in BigQuery as it is now? Repair if not."""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cli import exits
from cli.arguments import add_window_arguments
from cli.bootstrap import SCAN_PAGE_SIZE, OperatorPorts, build_operator_ports
from cli.confirm import confirm
from cli.console import Console
from cli.exits import UsageError
from cli.progress import Progress
from cli.publishing import BatchPublisher, Throttle, parse_rate
from cli.timeparse import check_window
from shared.errors import TransientError
from shared.external_sort import DEFAULT_RUN_SIZE
from shared.model import SessionKey
from shared.ports import RawDuplicates
from shared.reconcile import (
    INCONSISTENT,
    REPAIRABLE,
    BigQueryEntry,
    Comparison,
    Finding,
    FirestoreEntry,
    Freshness,
    bigquery_entries,
    compare,
    firestore_entries,
)
from shared.settings import load_settings

DEFAULT_GRACE_SECONDS = 120.0
DEFAULT_SHOW = 20
LABELS = {
    Finding.OK: "identical in both",
    Finding.MISSING: "missing from BigQuery",
    Finding.STALE: "stale in BigQuery",
    Finding.UNEXPECTED: "unexpected in BigQuery",
    Finding.INVALID: "invalid, recorded (no row due)",
    Finding.UNRECORDED: "invalid, never recorded",
    Finding.IN_FLIGHT: "in flight (not counted)",
}


@dataclass(frozen=True)
class ReconcileRequest:
    """The window and options of one reconcile run, validated."""

    since: datetime | None = None
    until: datetime | None = None
    repair: bool = False
    as_json: bool = False
    grace: float = DEFAULT_GRACE_SECONDS
    show: int = DEFAULT_SHOW
    rate: float | None = None
    yes: bool = False
    run_size: int = DEFAULT_RUN_SIZE

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ReconcileRequest:
        """Validate the options; raises `UsageError`."""
        check_window(args.since, args.until)
        if args.grace < 0:
            raise UsageError("--grace must not be negative")
        if args.show < 0:
            raise UsageError("--show must not be negative")
        return cls(
            since=args.since,
            until=args.until,
            repair=args.repair,
            as_json=args.json,
            grace=args.grace,
            show=args.show,
            rate=args.rate,
            yes=args.yes,
        )


@dataclass
class Report:
    """Counts per finding, the first `show` sessions of each, and what a repair replays.

    Memory: `show` comparisons per finding plus one key per missing or stale session.
    """

    show: int
    counts: Counter[Finding] = field(default_factory=Counter)
    samples: dict[Finding, list[Comparison]] = field(default_factory=dict)
    repairs: list[SessionKey] = field(default_factory=list)
    firestore_sessions: int = 0
    bigquery_rows: int = 0
    duplicates: RawDuplicates = field(default_factory=lambda: RawDuplicates(0, 0))

    def firestore_side(self, entries: Iterable[FirestoreEntry]) -> Iterator[FirestoreEntry]:
        """Pass the Firestore entries through, counting them."""
        for entry in entries:
            self.firestore_sessions += 1
            yield entry

    def bigquery_side(self, entries: Iterable[BigQueryEntry]) -> Iterator[BigQueryEntry]:
        """Pass the BigQuery entries through, counting them."""
        for entry in entries:
            self.bigquery_rows += 1
            yield entry

    def add(self, comparison: Comparison) -> None:
        finding = comparison.finding
        self.counts[finding] += 1
        if finding is not Finding.OK:
            shown = self.samples.setdefault(finding, [])
            if len(shown) < self.show:
                shown.append(comparison)
        if finding in REPAIRABLE and comparison.session_key is not None:
            self.repairs.append(comparison.session_key)

    @property
    def consistent(self) -> bool:
        return not any(self.counts[finding] for finding in INCONSISTENT)

    def summary_json(self) -> dict[str, Any]:
        return {
            "consistent": self.consistent,
            "counts": {finding.value: self.counts[finding] for finding in Finding},
            "firestore_completed_sessions": self.firestore_sessions,
            "bigquery_latest_rows": self.bigquery_rows,
            "raw_duplicates": self.duplicates._asdict(),
        }


def register(commands: Any) -> None:
    """Add `reconcile` to the command parser."""
    parser = commands.add_parser(
        "reconcile",
        help="compare completed sessions in Firestore with sessions_latest; --repair replays",
        description=(
            "Compare every completed session (startTime in the window) with its newest row in"
            " sessions_latest and report missing, stale (the document changed after its last"
            " synced version) and unexpected rows (no completed session behind them), with"
            " counts and ids, plus the raw duplicate rows of the sessions table (harmless)."
            " Both sides are streamed; Firestore entries are sorted by pseudonym with at most"
            f" {DEFAULT_RUN_SIZE:,} in memory (the rest spills to a private temporary folder)."
            " --repair replays the missing and stale sessions. Exit 0 when consistent (with"
            " --repair: when everything found was replayed), 1 when not, 2 on usage errors."
        ),
    )
    add_window_arguments(parser, what="completed sessions and rows whose start time is")
    parser.add_argument(
        "--repair",
        action="store_true",
        help="publish a replay (origin=replay) for every missing or stale session",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per finding (user_id, session_id, user_id_hash) and a summary line",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE_SECONDS,
        metavar="SECONDS",
        help="a session not yet synced and written less than SECONDS ago counts as in flight"
        f" (default {DEFAULT_GRACE_SECONDS:g})",
    )
    parser.add_argument(
        "--show",
        type=int,
        default=DEFAULT_SHOW,
        metavar="N",
        help=f"sessions listed per finding in the text report (default {DEFAULT_SHOW})",
    )
    parser.add_argument(
        "--rate", type=parse_rate, metavar="N/s", help="with --repair: publish at most N/s"
    )
    parser.add_argument("--yes", action="store_true", help="with --repair: do not ask")
    parser.set_defaults(handler=exits.guarded("reconcile", run))


def run(args: argparse.Namespace) -> int:
    """Entry point: validate, build the real adapters, reconcile."""
    request = ReconcileRequest.from_args(args)
    return reconcile(request, build_operator_ports(load_settings(), pseudonymize=True), Console())


def reconcile(
    request: ReconcileRequest,
    ports: OperatorPorts,
    console: Console,
    *,
    clock: Callable[[], float] = time.time,
) -> int:
    """Compare, report, and with `--repair` replay; return the exit code.

    Needs `ports.pseudonymizer` (raises `UsageError` without it).
    """
    if ports.pseudonymizer is None:
        raise UsageError("reconcile needs the pseudonymization salt to match sessions to rows")
    freshness = Freshness(started=clock(), grace=request.grace)
    report = Report(show=request.show)
    progress = Progress("reconcile", stream=console.stderr)
    window = {"since": request.since, "until": request.until}
    try:
        firestore = report.firestore_side(
            firestore_entries(
                ports.sessions,
                ports.pseudonymizer,
                **window,
                page_size=SCAN_PAGE_SIZE,
                run_size=request.run_size,
                on_read=lambda: progress.advance(note="Firestore sessions read"),
            )
        )
        bigquery = report.bigquery_side(bigquery_entries(ports.rows, **window))
        for comparison in compare(firestore, bigquery, freshness=freshness):
            report.add(comparison)
            if request.as_json and comparison.finding is not Finding.OK:
                console.emit(json.dumps(comparison.to_json(), ensure_ascii=False))
        report.duplicates = ports.rows.raw_duplicates(**window)
    finally:
        progress.close()
    if request.as_json:
        console.emit(json.dumps({"summary": report.summary_json()}))
    else:
        console.emit(render(report, request))
    if not request.repair or not report.repairs:
        return exits.OK if report.consistent else exits.FAILED
    return _repair(request, ports, console, report)


def _repair(
    request: ReconcileRequest, ports: OperatorPorts, console: Console, report: Report
) -> int:
    """Replay the missing and stale sessions; exit 0 only if all went out and none is unexpected."""
    missing, stale = report.counts[Finding.MISSING], report.counts[Finding.STALE]
    if not confirm(
        f"Replay {missing} missing and {stale} stale session(s) to {ports.topic}?",
        assume_yes=request.yes,
        stdin=console.stdin,
        stderr=console.stderr,
    ):
        console.say("reconcile: repair declined, nothing published")
        return exits.FAILED
    progress = Progress("repair", total=len(report.repairs), stream=console.stderr)
    batches = BatchPublisher(
        ports.publisher, origin="replay", throttle=Throttle(request.rate), progress=progress
    )
    try:
        for key in report.repairs:
            batches.add(key)
        batches.flush()
    except TransientError as error:
        console.say(f"reconcile: repair failed after {batches.published} message(s): {error}")
        return exits.FAILED
    finally:
        progress.close()
    console.say(
        f"reconcile: repair published {batches.published} replay message(s) to {ports.topic};"
        " run reconcile again once the pipeline has synced them"
    )
    unexpected = report.counts[Finding.UNEXPECTED]
    if unexpected:
        console.say(f"reconcile: {unexpected} unexpected row(s) remain: replays cannot remove rows")
        return exits.FAILED
    return exits.OK


def render(report: Report, request: ReconcileRequest) -> str:
    """The text report: counts, the first sessions of each finding, and the verdict."""
    window = "all start times"
    if request.since or request.until:
        start = request.since.isoformat() if request.since else "the beginning"
        end = request.until.isoformat() if request.until else "now"
        window = f"start time from {start} to {end} (exclusive)"
    rows = [
        ("Firestore completed sessions", str(report.firestore_sessions)),
        ("BigQuery sessions_latest rows", str(report.bigquery_rows)),
        *((LABELS[finding], str(report.counts[finding])) for finding in Finding),
        (
            "raw duplicate rows (harmless)",
            f"{report.duplicates.extra_rows} in {report.duplicates.sessions} session(s)",
        ),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"reconcile: {window}", *(f"  {label.ljust(width)}  {value}" for label, value in rows)]
    for finding in (*INCONSISTENT, Finding.INVALID, Finding.IN_FLIGHT):
        shown = report.samples.get(finding, [])
        if not shown:
            continue
        lines.append(f"{finding.value} ({report.counts[finding]}):")
        for comparison in shown:
            ident = (
                f"{comparison.user_id}/{comparison.session_id}"
                if comparison.user_id is not None
                else f"user_id_hash={comparison.user_id_hash} session_id={comparison.session_id}"
            )
            lines.append(f"  {ident}")
        hidden = report.counts[finding] - len(shown)
        if hidden:
            lines.append(f"  ... and {hidden} more (--json lists all)")
    if report.consistent:
        lines.append("result: consistent")
    else:
        hint = (
            "; --repair replays the missing and stale sessions"
            if report.repairs and not request.repair
            else ""
        )
        lines.append(f"result: INCONSISTENT{hint}")
    return "\n".join(lines)
