"""Both designs priced for one workload, and what the trigger's re-firing costs session-sync."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from cli.cost import operations as op
from cli.cost.bill import Bill, price
from cli.cost.counts import MeasuredCounts
from cli.cost.extension import ExtensionAssumptions, extension_terms, offset_backfill_reads
from cli.cost.ours import Assumptions, pipeline_terms
from cli.cost.prices import PriceList
from cli.cost.workload import Workload

OURS, EXTENSION = "session-sync", "extension"


@dataclass(frozen=True)
class Refiring:
    """The trigger invocations session-sync's own status writes cause, and their price."""

    invocations: float  # a month
    saving: float  # what the month would cost less without them
    moved_status_reads: float  # reads a status kept in another document would add a month
    moved_status_cost: float


@dataclass(frozen=True)
class Estimate:
    """A month of `workload` for session-sync and for the extension, at `prices`."""

    workload: Workload
    ours: Bill
    extension: Bill
    refiring: Refiring
    offset_backfill_reads: float  # the extension's 0.1.45-0.1.46 backfill, for `backfill`
    counts: MeasuredCounts
    prices: PriceList


def _refired(bill: Bill) -> float:
    return sum(
        t.term.quantity
        for t in bill.terms
        if t.term.meter == "functions_requests" and "re-fired by status writes" in t.term.label
    )


def _refiring(
    workload: Workload, counts: MeasuredCounts, prices: PriceList, a: Assumptions, ours: Bill
) -> Refiring:
    """Price the re-fired invocations, and the read a status document of its own would add
    to every sync (its version could no longer be the session's: it must be read)."""
    quiet = dataclasses.replace(a, status_writes_fire_trigger=False)
    without = price(OURS, pipeline_terms(workload, counts, quiet), prices)
    live = counts.path("live")
    syncs = workload.sessions_per_month * live.get(op.FIRESTORE_WRITES)
    reads = syncs + workload.replays + workload.backfill
    return Refiring(
        invocations=_refired(ours),
        saving=ours.total - without.total,
        moved_status_reads=reads,
        moved_status_cost=prices["firestore_document_reads"].cost(reads),
    )


def estimate(
    workload: Workload,
    counts: MeasuredCounts,
    prices: PriceList,
    *,
    assumptions: Assumptions | None = None,
    extension: ExtensionAssumptions | None = None,
) -> Estimate:
    """Price a month of `workload` for both designs."""
    a = assumptions or Assumptions()
    ext = extension or ExtensionAssumptions()
    documents = dict(counts.document_bytes)
    ours = price(OURS, pipeline_terms(workload, counts, a), prices)
    trigger_cpu = counts.cpu_seconds_per_request("trigger")
    theirs = price(
        EXTENSION,
        extension_terms(workload, documents, ext, measured_cpu_seconds=trigger_cpu),
        prices,
    )
    return Estimate(
        workload=workload,
        ours=ours,
        extension=theirs,
        refiring=_refiring(workload, counts, prices, a, ours),
        offset_backfill_reads=offset_backfill_reads(workload.backfill, ext.offset_backfill_batch),
        counts=counts,
        prices=prices,
    )
