"""`session-sync failures list`: the `bigquerySyncFailures` records, as a table or JSON lines."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from cli import exits
from cli.bootstrap import OperatorPorts, build_operator_ports
from cli.console import Console
from cli.timeparse import parse_moment
from shared.model import FailureRecord, FailureStatus
from shared.settings import load_settings
from shared.timestamps import utc_rfc3339

# Fixed column widths: rows are printed as they stream in, before the longest is known.
COLUMNS = (("CREATED", 20), ("STATUS", 9), ("RETRIES", 7), ("ORIGIN", 8), ("SESSION", 40))
REASON_CHARS = 80


def register(commands: Any) -> None:
    """Add `failures list` to the command parser."""
    failures = commands.add_parser(
        "failures",
        help="inspect the dead-letter records in bigquerySyncFailures",
        description="Inspect the bigquerySyncFailures records (one per failure episode).",
    )
    actions = failures.add_subparsers(dest="failures_command", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list",
        help="list records, newest first, as a table or JSON lines",
        description=(
            "Stream the failure records, newest first, page by page. The table shortens long"
            " reasons; --json prints every field, one object a line (user_id and session_id"
            " included, so the output can be fed to `replay --file`). Exit 0, or 1 when"
            " Firestore cannot be read."
        ),
    )
    listing.add_argument(
        "--status",
        choices=[status.value for status in FailureStatus],
        help="only records with this status (default: all)",
    )
    listing.add_argument(
        "--since",
        type=parse_moment,
        metavar="TIME",
        help="only records created at or after TIME (YYYY-MM-DD or RFC 3339 with a zone)",
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument("--limit", type=int, metavar="N", help="stop after N records")
    listing.set_defaults(handler=exits.guarded("failures list", run))


def run(args: argparse.Namespace) -> int:
    """Entry point: validate, build the real adapters, list."""
    if args.limit is not None and args.limit < 1:
        raise exits.UsageError("--limit must be at least 1")
    status = FailureStatus(args.status) if args.status else None
    ports = build_operator_ports(load_settings())
    return list_failures(
        ports, Console(), status=status, since=args.since, as_json=args.json, limit=args.limit
    )


def list_failures(
    ports: OperatorPorts,
    console: Console,
    *,
    status: FailureStatus | None = None,
    since: datetime | None = None,
    as_json: bool = False,
    limit: int | None = None,
) -> int:
    """Print the records as they stream in; a count by status goes to stderr at the end."""
    counts: dict[str, int] = {}
    if not as_json:
        console.emit(_table_line([name for name, _ in COLUMNS] + ["REASON"]))
    for record in ports.failures.list(status=status, since=since):
        console.emit(json.dumps(record_json(record)) if as_json else _table_row(record))
        counts[record.status.value] = counts.get(record.status.value, 0) + 1
        if limit is not None and sum(counts.values()) >= limit:
            break
    total = sum(counts.values())
    by_status = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
    console.say(f"failures: {total} record(s)" + (f" ({by_status})" if by_status else ""))
    return exits.OK


def record_json(record: FailureRecord) -> dict[str, Any]:
    """A record as a JSON object: every field, timestamps as RFC 3339."""
    return {
        "record_id": record.record_id,
        "status": record.status.value,
        "user_id": record.user_id,
        "session_id": record.session_id,
        "event_id": record.event_id,
        "origin": record.origin,
        "table": record.table,
        "retry_count": record.retry_count,
        "generation": record.generation,
        "redrive_count": record.redrive_count,
        "failure_reason": record.failure_reason,
        "created_at": _moment(record.created_at),
        "last_retry_at": _moment(record.last_retry_at),
        "next_redrive_at": _moment(record.next_redrive_at),
        "resolved_at": _moment(record.resolved_at),
        "final_at": _moment(record.final_at),
    }


def _table_row(record: FailureRecord) -> str:
    created = record.created_at.strftime("%Y-%m-%dT%H:%M:%SZ") if record.created_at else "-"
    session = f"{record.user_id}/{record.session_id}" if record.session_id else "-"
    reason = " ".join(record.failure_reason.split())
    if len(reason) > REASON_CHARS:
        reason = reason[: REASON_CHARS - 3] + "..."
    cells = [created, record.status.value, str(record.retry_count), record.origin]
    return _table_line([*cells, session, reason])


def _table_line(cells: list[str]) -> str:
    widths = [width for _, width in COLUMNS]
    padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
    return "  ".join([*padded, *cells[len(widths) :]]).rstrip()


def _moment(value: datetime | None) -> str | None:
    return utc_rfc3339(value) if value is not None else None
