"""The "Stream Firestore to BigQuery" extension's month, modelled from its documented behaviour.

What it does (firestore-bigquery-export, its README and its function code):
- `fsexportbigquery` runs on every write of a document of the collection and
  streams one row into the raw changelog table: the document as it is now
  (`data`) and, unless `Exclude old data payloads` is set, as it was
  (`old_data`), plus the document name, event id, operation and timestamp. A
  session written N times leaves N rows.
- When that insert fails, it enqueues the change on the `syncBigQuery` task
  queue (Cloud Tasks: one enqueue, one dispatch per attempt, up to 5 attempts),
  whose function streams the row again. Past the attempts the change is logged,
  not kept: there is no later redrive, reconcile or replay.
- Existing documents are imported by the `fs-bq-import-collection` script, run
  by an operator: it reads every document once and streams one IMPORT row each.
  Versions 0.1.45 and 0.1.46 backfilled inside the extension with offset
  queries, which Firestore bills for every skipped document (firebase/extensions
  issues 2000 and 2003, fixed by disabling it in pull request 2005).
It reads and writes no Firestore document of its own on the live path.
"""

from __future__ import annotations

from dataclasses import dataclass

from cli.cost.bill import Term
from cli.cost.compute import FunctionShape, instance_time
from cli.cost.workload import LOG_ENVELOPE_BYTES, REQUEST_LOG_BYTES, Workload

STREAMING_ROW_MINIMUM = 1024
STRING_OVERHEAD = 2  # BigQuery counts 2 bytes per STRING value beyond its UTF-8 length


@dataclass(frozen=True)
class ExtensionAssumptions:
    """What its documentation does not fix, as parameters.

    The function shape is firebase-functions' default for 2nd gen (1 vCPU up to
    2 GB, concurrency 80 with 1 vCPU, 256 MiB); a request lasts one streaming
    insert (50 ms) and, unless `cpu_seconds` says otherwise, uses the CPU our
    trigger was measured to use per event (both decode a Firestore event and
    make one call). Row overhead: document name, event id, document id,
    operation and timestamp. Log entries: the start, received and complete lines
    it writes per change at the default level.
    """

    vcpu: float = 1.0
    memory_gib: float = 0.25
    concurrency: int = 80
    request_seconds: float = 0.05
    cpu_seconds: float | None = None  # None: the trigger's measured CPU per event
    row_overhead_bytes: float = 200.0
    keep_old_data: bool = True
    task_attempts_per_failure: float = 1.0  # dispatches until the retry succeeds
    log_entries_per_write: float = 3.0
    log_line_bytes: float = 300.0
    log_envelope_bytes: float = LOG_ENVELOPE_BYTES
    request_log_bytes: float = REQUEST_LOG_BYTES
    offset_backfill_batch: int = 200  # "Docs per backfill" of the in-extension backfill


def changelog_row_bytes(data: float, old_data: float | None, a: ExtensionAssumptions) -> float:
    """One changelog row's billed size: at least 1 KB."""
    size = a.row_overhead_bytes + STRING_OVERHEAD + data
    if old_data is not None and a.keep_old_data:
        size += STRING_OVERHEAD + old_data
    return max(STREAMING_ROW_MINIMUM, size)


def session_rows_bytes(
    workload: Workload, documents: dict[str, float], a: ExtensionAssumptions
) -> float:
    """Billed bytes of one session's rows: created, each update, completed."""
    active, done = documents["active"], documents["completed"]
    return (
        changelog_row_bytes(active, None, a)
        + workload.updates_per_session * changelog_row_bytes(active, active, a)
        + changelog_row_bytes(done, active, a)
    )


def offset_backfill_reads(documents: int, batch: int) -> float:
    """Reads of a backfill paging with offsets: page k re-reads the k*batch documents it skips."""
    pages = -(-documents // batch)
    return sum(min(documents, (page + 1) * batch) for page in range(pages))


def extension_terms(
    workload: Workload,
    documents: dict[str, float],
    assumptions: ExtensionAssumptions | None = None,
    *,
    measured_cpu_seconds: float = 0.0,
) -> list[Term]:
    """The extension's usage terms for a month of `workload` (documents: mean JSON sizes;
    `measured_cpu_seconds`: our trigger's CPU per event, the default CPU of a request)."""
    a = assumptions or ExtensionAssumptions()
    cpu = measured_cpu_seconds if a.cpu_seconds is None else a.cpu_seconds
    shape = FunctionShape(a.vcpu, a.memory_gib, a.concurrency, a.request_seconds, cpu)
    writes = workload.sessions_per_month * workload.app_writes_per_session
    failed = writes * workload.failure_rate
    retried = failed * a.task_attempts_per_failure
    terms = [
        Term("functions_requests", "fsexportbigquery (one per document write)", writes),
        Term("eventarc_events", "Firestore events to fsexportbigquery", writes),
        Term(
            "bigquery_streaming_inserts",
            "changelog rows: one per document write",
            workload.sessions_per_month * session_rows_bytes(workload, documents, a),
        ),
        Term("tasks_operations", "failed inserts: enqueue and dispatch", failed + retried),
        Term("functions_requests", "syncBigQuery (retried inserts)", retried),
        Term(
            "logging_storage",
            "the extension's log lines (estimate)",
            writes * a.log_entries_per_write * (a.log_line_bytes + a.log_envelope_bytes),
        ),
        Term(
            "logging_storage", "request logs (estimate)", (writes + retried) * a.request_log_bytes
        ),
    ]
    for name, requests in (("fsexportbigquery", writes), ("syncBigQuery", retried)):
        time = instance_time(requests, shape)
        terms.append(Term("functions_vcpu_seconds", f"{name} instance time", time.vcpu_seconds))
        terms.append(Term("functions_gib_seconds", f"{name} instance memory", time.gib_seconds))
    if workload.backfill:
        imported = changelog_row_bytes(documents["completed"], None, a)
        label = "import script: reads each document"
        terms.append(Term("firestore_document_reads", label, workload.backfill))
        terms.append(
            Term(
                "bigquery_streaming_inserts",
                "import script: one IMPORT row each",
                workload.backfill * imported,
            )
        )
    return terms
