"""Text tables of the counted operations per session and of the worker CPU per session."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bench.cost_paths import PathCount
from bench.worker_cpu import CpuFigure
from cli.cost import operations as op

# (label, operation, divisor): what the tables show, in billing units.
ROWS = (
    ("Firestore document reads", op.FIRESTORE_READS, 1),
    ("Firestore document writes", op.FIRESTORE_WRITES, 1),
    ("invocations, all functions", op.INVOCATIONS, 1),
    ("  of which ignored by the trigger", op.IGNORED, 1),
    ("Pub/Sub messages published", op.PUBLISHED, 1),
    ("Pub/Sub messages pushed", op.DELIVERED, 1),
    ("Pub/Sub message bytes", op.MESSAGE_BYTES, 1),
    ("Pub/Sub billed KB (publish+push)", "pubsub.billable", 1000),
    ("Cloud Tasks operations", op.TASK_OPERATIONS, 1),
    ("BigQuery rows streamed", op.ROWS_STREAMED, 1),
    ("BigQuery row bytes", op.ROW_BYTES, 1),
    ("BigQuery streaming billed KB", op.STREAMING_BILLABLE, 1024),
    ("BigQuery rows refused (unbilled)", op.ROWS_REFUSED, 1),
    ("BigQuery queries", op.QUERIES, 1),
    ("BigQuery query bytes scanned", op.QUERY_BYTES, 1),
    ("BigQuery query MB billed (10 MB min)", op.QUERY_BILLABLE, 1024 * 1024),
    ("log entries (pipeline's own)", op.LOG_ENTRIES, 1),
)


def _cell(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def operations_table(counts: Sequence[PathCount]) -> str:
    """Operations per session (per round for a path that synced none), one column a path."""
    columns = []
    for count in counts:
        values = count.per_session()
        values["pubsub.billable"] = values.get(op.PUBLISH_BILLABLE, 0.0) + values.get(
            op.DELIVERY_BILLABLE, 0.0
        )
        columns.append(values)
    header = ["per session", *(c.path + ("/round" if not c.sessions else "") for c in counts)]
    lines = [[label, *(_cell(v.get(op, 0.0) / div) for v in columns)] for label, op, div in ROWS]
    for actor in ("trigger", "sync_worker", "retry_worker"):
        lines.append(
            [f"  invocations: {actor}", *(_cell(c.invocations().get(actor, 0.0)) for c in counts)]
        )
    return _render([header, *lines])


def cpu_table(figures: Sequence[CpuFigure]) -> str:
    """CPU µs per synced session (per event for the trigger) by mode and batch size."""
    header = ["worker CPU", "batch size", "sessions", "µs/session", "mean batch seen", "wall s"]
    lines = [
        [
            f.mode,
            str(f.batch_size) if f.mode != "trigger" else "-",
            str(f.sessions) + (" events" if f.mode == "trigger" else ""),
            f"{f.micros_per_session:,.0f}",
            "-" if math.isnan(f.mean_batch) else f"{f.mean_batch:.1f}",
            f"{f.wall_seconds:.1f}",
        ]
        for f in figures
    ]
    return _render([header, *lines])


def _render(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    rendered = []
    for number, row in enumerate(rows):
        values = zip(row[1:], widths[1:], strict=True)
        cells = [row[0].ljust(widths[0]), *(cell.rjust(width) for cell, width in values)]
        rendered.append("  ".join(cells))
        if number == 0:
            rendered.append("  ".join("-" * w for w in widths))
    return "\n".join(rendered)
