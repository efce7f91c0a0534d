"""The estimate as text (a table per service, the largest terms, the counts used) or JSON."""

from __future__ import annotations

import dataclasses
from typing import Any

from cli.cost import operations as op
from cli.cost.bill import SERVICES, Bill, PricedTerm
from cli.cost.counts import PathCounts
from cli.cost.model import EXTENSION, OURS, Estimate
from cli.cost.ours import FUNCTIONS, request_seconds

TOP_TERMS = 3
METER_NAMES = {
    "firestore_document_reads": "document reads",
    "firestore_document_writes": "document writes",
    "functions_requests": "requests",
    "functions_vcpu_seconds": "vCPU time",
    "functions_gib_seconds": "memory time",
    "pubsub_throughput": "throughput",
    "tasks_operations": "operations",
    "bigquery_streaming_inserts": "streaming inserts",
    "bigquery_on_demand_queries": "on-demand queries",
    "scheduler_jobs": "jobs",
    "logging_storage": "log storage",
    "eventarc_events": "events",
}
# (operation, singular, plural) shown in the counts used
_SHOWN = (
    (op.FIRESTORE_READS, "read", "reads"),
    (op.FIRESTORE_WRITES, "write", "writes"),
    (op.PUBLISHED, "message published", "messages published"),
    (op.TASK_OPERATIONS, "task operation", "task operations"),
    (op.ROWS_STREAMED, "row streamed", "rows streamed"),
)


def money(amount: float) -> str:
    return f"${amount:,.2f}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}".rstrip("0").rstrip(".")


def _services(ours: Bill, theirs: Bill) -> list[str]:
    mine, other = ours.by_service(), theirs.by_service()
    width = max(len(service) for service in SERVICES) + 12
    lines = [f"{'monthly cost by service':<{width}}{OURS:>14}{EXTENSION:>14}"]
    for service in SERVICES:
        label = service + (" (not priced)" if service == "Eventarc" else "")
        lines.append(f"{label:<{width}}{money(mine[service]):>14}{money(other[service]):>14}")
    lines.append(f"{'total':<{width}}{money(ours.total):>14}{money(theirs.total):>14}")
    measured = [bill.total - _estimated_logs(bill) for bill in (ours, theirs)]
    label = "total without log estimates"
    lines.append(f"{label:<{width}}{money(measured[0]):>14}{money(measured[1]):>14}")
    return lines


def _estimated_logs(bill: Bill) -> float:
    """The log terms whose sizes are estimates, not counts."""
    return sum(t.cost for t in bill.terms if "(estimate)" in t.term.label)


def _term(term: PricedTerm, total: float) -> str:
    share = term.cost / total * 100 if total else 0.0
    meter = METER_NAMES.get(term.term.meter, term.term.meter)
    return f"{money(term.cost):>12} {share:4.0f}%  {term.service} {meter}: {term.term.label}"


def _largest(bill: Bill) -> list[str]:
    lines = [f"largest terms, {bill.design}:"]
    lines += [f"  {n}. {_term(t, bill.total)}" for n, t in enumerate(bill.largest(TOP_TERMS), 1)]
    return lines


def _path_line(path: PathCounts, base: PathCounts | None = None) -> str:
    parts = []
    for operation, one, many in _SHOWN:
        value = path.get(operation) - (base.get(operation) if base else 0.0)
        if round(value, 2):
            parts.append(f"{_number(value)} {one if value == 1 else many}")
    calls = {
        name: path.calls(name) - (base.calls(name) if base else 0.0) for name in path.invocations
    }
    shown = ", ".join(f"{name} {_number(v)}" for name, v in sorted(calls.items()) if round(v, 2))
    if shown:
        parts.append(f"invocations {shown}")
    return ", ".join(parts) or "nothing"


def _counts_used(estimate: Estimate) -> list[str]:
    counts = estimate.counts
    live = counts.path("live")
    pubsub = (live.get(op.PUBLISH_BILLABLE) + live.get(op.DELIVERY_BILLABLE)) / 1000
    durations = []
    for function in FUNCTIONS:
        cpu = counts.cpu_seconds_per_request(function)
        used = request_seconds(counts, function)
        durations.append(f"{function} {used * 1000:.0f} ms ({'CPU' if used == cpu else 'wall'})")
    documents = counts.document_bytes
    return [
        f"counts used (measured on the local stack on {counts.measured_at},"
        f" commit {counts.commit[:12]}; per session):",
        f"  live: {_path_line(live)} (of the trigger's {_number(live.calls('trigger'))},"
        f" {_number(live.app_writes_per_session)} were the app's writes);"
        f" row {live.get(op.ROW_BYTES):.0f} B billed as"
        f" {live.get(op.STREAMING_BILLABLE) / 1024:.0f} KB; Pub/Sub {pubsub:.1f} KB billed",
        f"  a failure one retry resolves, extra: {_path_line(counts.path('retry'), live)}",
        f"  an episode abandoned and redriven, extra: {_path_line(counts.path('redrive'), live)}",
        f"  replay: {_path_line(counts.path('replay'))}",
        f"  backfill: {_path_line(counts.path('backfill'))}",
        f"  daily reconcile: {_path_line(counts.path('reconcile'))} per session in its window;"
        " its query scans the whole sessions table",
        "  a request keeps an instance busy for its wall time on the local stack, or its CPU if"
        " longer: " + ", ".join(durations),
        f"  extension: session documents of {documents['active']:.0f} B (active) and"
        f" {documents['completed']:.0f} B (completed) as JSON, one changelog row per write",
    ]


def _refiring(estimate: Estimate) -> list[str]:
    refiring = estimate.refiring
    return [
        f"avoidable: each status write of the workers fires the trigger again, to be ignored:"
        f" {_number(refiring.invocations)} invocations a month, {money(refiring.saving)}"
        " (requests, instance time, request logs).",
        "  Avoiding it means keeping the bigquerySync* fields out of the session document, which"
        " changes the status contract (not done). Every sync would then read that document as"
        f" well: {_number(refiring.moved_status_reads)} reads,"
        f" {money(refiring.moved_status_cost)} a month.",
    ]


def render_text(estimate: Estimate) -> str:
    """The report for a terminal."""
    w = estimate.workload
    prices = estimate.prices
    lines = [
        f"session-sync cost: {_number(w.sessions_per_day)} completed sessions a day"
        f" ({_number(w.sessions_per_month)} a month), {prices.region}, {prices.currency}"
        " list prices, free tiers not subtracted",
        f"workload: {_number(w.app_writes_per_session)} app writes per session (created,"
        f" {_number(w.updates_per_session)} updates, completed), failure rate"
        f" {w.failure_rate:.1%}, backfill {_number(w.backfill)}, replays {_number(w.replays)},"
        f" abandoned {_number(w.abandoned)}; reconcile scans {_number(w.history_months)} months"
        " of rows",
        "",
        *_services(estimate.ours, estimate.extension),
        "",
        *(
            f"dominant term, {bill.design}: {_term(top, bill.total).strip()}"
            for bill in (estimate.ours, estimate.extension)
            if (top := bill.dominant) is not None
        ),
        *_largest(estimate.ours),
        *_largest(estimate.extension),
        "",
        *_refiring(estimate),
    ]
    if w.backfill:
        reads = estimate.offset_backfill_reads
        cost = prices["firestore_document_reads"].cost(reads)
        lines += [
            f"backfill: the extension's in-extension backfill of versions 0.1.45-0.1.46 paged"
            f" with offsets: {_number(reads)} reads ({money(cost)}) for {_number(w.backfill)}"
            " documents; the import script it now documents reads each once (priced above).",
        ]
    unconfirmed = ", ".join(price.key for price in prices.unconfirmed)
    lines += [
        "",
        *_counts_used(estimate),
        f"prices: cli/cost/prices.json; not confirmed for {prices.region}: {unconfirmed}",
    ]
    return "\n".join(lines)


def _bill_json(bill: Bill) -> dict[str, Any]:
    return {
        "services": {service: round(cost, 4) for service, cost in bill.by_service().items()},
        "total": round(bill.total, 4),
        "dominant": bill.dominant.term.label if bill.dominant else None,
        "terms": [
            {
                "service": t.service,
                "meter": t.term.meter,
                "label": t.term.label,
                "quantity": t.term.quantity,
                "cost": round(t.cost, 4),
            }
            for t in bill.largest(len(bill.terms))
        ],
    }


def render_json(estimate: Estimate) -> dict[str, Any]:
    """The report as one JSON object."""
    counts = estimate.counts
    return {
        "workload": dataclasses.asdict(estimate.workload),
        "region": estimate.prices.region,
        "currency": estimate.prices.currency,
        "free_tiers_subtracted": False,
        "monthly": {OURS: _bill_json(estimate.ours), EXTENSION: _bill_json(estimate.extension)},
        "refiring": dataclasses.asdict(estimate.refiring),
        "extension_offset_backfill_reads": estimate.offset_backfill_reads,
        "counts": {
            "measured_at": counts.measured_at,
            "commit": counts.commit,
            "paths": {
                name: {"operations": dict(path.operations), "invocations": dict(path.invocations)}
                for name, path in counts.paths.items()
            },
        },
        "unconfirmed_prices": [price.key for price in estimate.prices.unconfirmed],
    }
