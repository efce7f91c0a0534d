"""session-sync's month: the measured counts per session, scaled by the workload.

Each source of work (live completions, retried failures, redriven episodes,
replays, backfills, the daily reconcile, the redrive's rounds) contributes the
operations its path cost per session on the local stack. Trigger invocations
are split: the app's own writes (one per write, as for any trigger on the
collection) and the pipeline's status writes, which fire the trigger again to
be ignored (`Assumptions.status_writes_fire_trigger` drops those, to price
avoiding them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from cli.cost import operations as op
from cli.cost.bill import Term
from cli.cost.compute import FunctionShape, instance_time
from cli.cost.counts import ROUND_PATH, MeasuredCounts, PathCounts
from cli.cost.workload import DAYS_PER_MONTH, LOG_ENVELOPE_BYTES, REQUEST_LOG_BYTES, Workload

TRIGGER, SYNC_WORKER, RETRY_WORKER = "trigger", "sync_worker", "retry_worker"
FUNCTIONS = (TRIGGER, SYNC_WORKER, RETRY_WORKER)
# terraform's defaults (variables.tf *_scaling): 1 vCPU, 512 MiB, request concurrency.
CONCURRENCY = {TRIGGER: 10, SYNC_WORKER: 40, RETRY_WORKER: 10}
VCPU, MEMORY_GIB = 1.0, 0.5
METERS_PER_OPERATION = (
    (op.FIRESTORE_READS, "firestore_document_reads"),
    (op.FIRESTORE_WRITES, "firestore_document_writes"),
    (op.PUBLISH_BILLABLE, "pubsub_throughput"),
    (op.DELIVERY_BILLABLE, "pubsub_throughput"),
    (op.TASK_OPERATIONS, "tasks_operations"),
    (op.STREAMING_BILLABLE, "bigquery_streaming_inserts"),
)


@dataclass(frozen=True)
class Assumptions:
    """What the counts cannot say, with the defaults of terraform and the design."""

    status_writes_fire_trigger: bool = True
    request_log_bytes: float = REQUEST_LOG_BYTES
    log_envelope_bytes: float = LOG_ENVELOPE_BYTES
    reconcile_window_days: float = 3.0  # RECONCILE_WINDOW_HOURS = 72
    reconcile_runs: float = DAYS_PER_MONTH  # "0 3 * * *"
    redrive_rounds: float = 12 * 24 * DAYS_PER_MONTH  # "*/5 * * * *"
    scheduler_jobs: float = 2.0
    concurrency: Mapping[str, int] = field(default_factory=lambda: dict(CONCURRENCY))


@dataclass
class _Month:
    """Terms being collected, and requests per function (for instance time and request logs)."""

    terms: list[Term] = field(default_factory=list)
    requests: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, meter: str, label: str, quantity: float) -> None:
        if quantity:
            self.terms.append(Term(meter, label, quantity))

    def call(self, function: str, source: str, quantity: float) -> None:
        self.requests[function] += quantity
        self.add("functions_requests", f"{function} ({source})", quantity)


def _operations(
    month: _Month, label: str, per_session: Mapping[str, float], sessions: float, a: Assumptions
) -> None:
    for operation, meter in METERS_PER_OPERATION:
        month.add(meter, label, per_session.get(operation, 0.0) * sessions)
    entries = per_session.get(op.LOG_ENTRIES, 0.0)
    logged = per_session.get(op.LOG_BYTES, 0.0) + entries * a.log_envelope_bytes
    month.add("logging_storage", f"{label}: the pipeline's log lines", logged * sessions)


def _delta(path: PathCounts, base: PathCounts) -> dict[str, float]:
    names = set(path.operations) | set(base.operations)
    return {name: path.get(name) - base.get(name) for name in names}


def _calls(
    month: _Month,
    label: str,
    path: PathCounts,
    sessions: float,
    assumptions: Assumptions,
    *,
    base: PathCounts | None = None,
    app_writes: float = 0.0,
) -> None:
    """Invocations of each function; the trigger's split into the app's and the pipeline's."""
    for function in FUNCTIONS:
        per_session = path.calls(function) - (base.calls(function) if base else 0.0)
        if function == TRIGGER:
            measured_app = path.app_writes_per_session - (
                base.app_writes_per_session if base else 0.0
            )
            pipeline = per_session - measured_app
            month.call(TRIGGER, f"{label}: the app's session writes", app_writes * sessions)
            if assumptions.status_writes_fire_trigger:
                month.call(TRIGGER, f"{label}: re-fired by status writes", pipeline * sessions)
        else:
            month.call(function, label, per_session * sessions)


def _reconcile(month: _Month, workload: Workload, counts: MeasuredCounts, a: Assumptions) -> None:
    reconcile, live = counts.path("reconcile"), counts.path("live")
    in_window = workload.sessions_per_day * a.reconcile_window_days
    per_run = in_window * reconcile.get(op.FIRESTORE_READS)
    reads = per_run * a.reconcile_runs
    month.add("firestore_document_reads", "daily reconcile: window scan", reads)
    month.call(RETRY_WORKER, "daily reconcile", a.reconcile_runs)
    rows = workload.sessions_per_day * DAYS_PER_MONTH * workload.history_months
    table_bytes = rows * live.get(op.ROW_BYTES)
    scanned = max(table_bytes, 10 * 1024 * 1024) * a.reconcile_runs
    month.add("bigquery_on_demand_queries", "daily reconcile: sessions_latest scan", scanned)


def _redrive_rounds(month: _Month, counts: MeasuredCounts, a: Assumptions) -> None:
    idle = counts.path(ROUND_PATH)
    reads = idle.get(op.FIRESTORE_READS) * a.redrive_rounds
    month.add("firestore_document_reads", "redrive rounds", reads)
    month.call(RETRY_WORKER, "redrive rounds", idle.calls(RETRY_WORKER) * a.redrive_rounds)
    month.add("scheduler_jobs", "redrive and reconcile jobs", a.scheduler_jobs)


def request_seconds(counts: MeasuredCounts, function: str) -> float:
    """How long one request of `function` keeps an instance busy."""
    wall = {
        **counts.path("retry").mean_request_seconds,
        **counts.path("live").mean_request_seconds,
    }
    return max(wall.get(function, 0.0), counts.cpu_seconds_per_request(function))


def _instances(month: _Month, counts: MeasuredCounts, a: Assumptions) -> None:
    """Instance time and request logs from each function's requests of the month.

    A request lasts its wall time measured on the local stack, or its CPU time
    if longer; its CPU is the server's own, measured per request (0 where not
    measured: the retry worker)."""
    for function in FUNCTIONS:
        requests = month.requests.get(function, 0.0)
        shape = FunctionShape(
            VCPU,
            MEMORY_GIB,
            a.concurrency[function],
            request_seconds(counts, function),
            counts.cpu_seconds_per_request(function),
        )
        time = instance_time(requests, shape)
        month.add("functions_vcpu_seconds", f"{function} instance time", time.vcpu_seconds)
        month.add("functions_gib_seconds", f"{function} instance memory", time.gib_seconds)
        month.add(
            "logging_storage", f"{function} request logs (estimate)", requests * a.request_log_bytes
        )
    month.add("eventarc_events", "Firestore events to the trigger", month.requests[TRIGGER])


def pipeline_terms(
    workload: Workload, counts: MeasuredCounts, assumptions: Assumptions | None = None
) -> list[Term]:
    """session-sync's usage terms for a month of `workload`."""
    a = assumptions or Assumptions()
    month = _Month()
    live = counts.path("live")
    sessions = workload.sessions_per_month
    _operations(month, "live sync", live.operations, sessions, a)
    _calls(month, "live", live, sessions, a, app_writes=workload.app_writes_per_session)
    for name, label, count in (
        ("retry", "transient failures", workload.failure_rate * sessions),
        ("redrive", "outage, redriven", float(workload.abandoned)),
    ):
        path = counts.path(name)
        _operations(month, label, _delta(path, live), count, a)
        _calls(month, label, path, count, a, base=live)
    for name, label, count in (
        ("replay", "replays", float(workload.replays)),
        ("backfill", "backfill", float(workload.backfill)),
    ):
        path = counts.path(name)
        _operations(month, label, path.operations, count, a)
        _calls(month, label, path, count, a)
    _reconcile(month, workload, counts, a)
    _redrive_rounds(month, counts, a)
    _instances(month, counts, a)
    return month.terms
