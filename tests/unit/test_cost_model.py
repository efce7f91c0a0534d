"""The cost model: instance time, both designs' terms, the bill, and the packaged data files."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from cli.cost import operations as op
from cli.cost.bill import SERVICES, Term, price
from cli.cost.compute import FunctionShape, busy_instance_seconds
from cli.cost.counts import MeasuredCounts, load_counts, parse_counts
from cli.cost.extension import (
    ExtensionAssumptions,
    changelog_row_bytes,
    extension_terms,
    offset_backfill_reads,
)
from cli.cost.model import estimate
from cli.cost.ours import Assumptions, pipeline_terms
from cli.cost.prices import load_prices, parse_prices
from cli.cost.workload import SECONDS_PER_MONTH, Workload
from shared.errors import ConfigError

SHAPE = FunctionShape(vcpu=1.0, memory_gib=0.5, concurrency=10, request_seconds=0.05)


def path(**fields: Any) -> dict[str, Any]:
    invocations = fields.pop("invocations", {})
    return {
        "description": "",
        "sessions": fields.pop("sessions", 10),
        "app_writes_per_session": fields.pop("app_writes", 0),
        "per_session": fields,
        "invocations_per_session": invocations,
        "mean_request_seconds": {"trigger": 0.01, "sync_worker": 0.05, "retry_worker": 0.05},
    }


def counts() -> MeasuredCounts:
    """Counts shaped like the measured ones, with round numbers."""
    live = {
        op.FIRESTORE_READS: 1,
        op.FIRESTORE_WRITES: 1,
        op.PUBLISH_BILLABLE: 1000,
        op.DELIVERY_BILLABLE: 1000,
        op.ROWS_STREAMED: 1,
        op.ROW_BYTES: 500,
        op.STREAMING_BILLABLE: 1024,
    }
    return parse_counts(
        {
            "measured_at": "2026-12-01",
            "commit": "0" * 40,
            "sample_document_bytes": {"active": 500, "completed": 1200},
            "paths": {
                "live": path(app_writes=2, invocations={"trigger": 3, "sync_worker": 1}, **live),
                "retry": path(
                    app_writes=2,
                    invocations={"trigger": 4, "sync_worker": 1, "retry_worker": 1},
                    **{**live, op.FIRESTORE_READS: 3, op.FIRESTORE_WRITES: 4},
                    **{op.TASK_OPERATIONS: 2},
                ),
                "redrive": path(app_writes=2, invocations={"trigger": 14}, **live),
                "replay": path(invocations={"trigger": 1, "sync_worker": 1}, **live),
                "backfill": path(invocations={"trigger": 1, "sync_worker": 1}, **live),
                "reconcile": path(invocations={"retry_worker": 0.1}, **{op.FIRESTORE_READS: 1}),
                "redrive_round_idle": {
                    "sessions": 0,
                    "per_round": {op.FIRESTORE_READS: 3},
                    "invocations_per_round": {"retry_worker": 1},
                },
            },
        }
    )


def quantity(terms: list[Term], meter: str, label: str = "") -> float:
    return sum(t.quantity for t in terms if t.meter == meter and label in t.label)


def test_instance_time_is_request_time_when_sparse_and_scales_out_when_busy() -> None:
    assert busy_instance_seconds(0, SHAPE) == 0
    sparse = busy_instance_seconds(1000, SHAPE)
    assert sparse == pytest.approx(1000 * SHAPE.request_seconds, rel=1e-3)
    busy_requests = 10_000 * SECONDS_PER_MONTH  # 500 in flight: 50 instances of 10
    assert busy_instance_seconds(busy_requests, SHAPE) == pytest.approx(50 * SECONDS_PER_MONTH)
    assert busy_instance_seconds(SECONDS_PER_MONTH / 0.05, SHAPE) == pytest.approx(
        (1 - math.exp(-1)) * SECONDS_PER_MONTH
    )


def test_a_cpu_bound_function_needs_instances_for_its_cpu_at_60_percent() -> None:
    shape = FunctionShape(
        vcpu=1.0, memory_gib=0.5, concurrency=80, request_seconds=0.01, cpu_seconds=0.01
    )
    requests = 120 * SECONDS_PER_MONTH  # 1.2 CPU-seconds a second: 2 instances at 60 %
    assert busy_instance_seconds(requests, shape) == pytest.approx(2 * SECONDS_PER_MONTH)


def test_workload_counts_the_apps_writes_and_rejects_impossible_values() -> None:
    assert Workload(100, updates_per_session=3).app_writes_per_session == 5
    assert Workload(100).sessions_per_month == 3000
    for bad in ({"failure_rate": 1.5}, {"backfill": -1}, {"sessions_per_day": -1}):
        with pytest.raises(ValueError):
            Workload(**{"sessions_per_day": 1, **bad})


def test_live_sessions_cost_their_counts_and_the_trigger_fires_for_every_write() -> None:
    terms = pipeline_terms(Workload(1000), counts())
    month = 30_000
    assert quantity(terms, "firestore_document_writes", "live sync") == month
    assert quantity(terms, "firestore_document_reads", "live sync") == month
    assert quantity(terms, "functions_requests", "the app's session writes") == 4 * month
    assert quantity(terms, "functions_requests", "re-fired by status writes") == month
    assert quantity(terms, "functions_requests", "sync_worker (live)") == month
    assert quantity(terms, "pubsub_throughput") == 2000 * month
    assert quantity(terms, "bigquery_streaming_inserts") == 1024 * month
    # the daily reconcile reads each session once per run while in its 72 h window
    assert quantity(terms, "firestore_document_reads", "daily reconcile") == 3 * month
    # and its query scans the whole table: 12 months of 500-byte rows, 30 times
    assert quantity(terms, "bigquery_on_demand_queries") == 30 * 12 * month * 500
    assert quantity(terms, "firestore_document_reads", "redrive rounds") == 3 * 8640
    assert quantity(terms, "scheduler_jobs") == 2


def test_without_the_re_firing_the_trigger_only_sees_the_apps_writes() -> None:
    quiet = Assumptions(status_writes_fire_trigger=False)
    terms = pipeline_terms(Workload(1000), counts(), quiet)
    assert quantity(terms, "functions_requests", "re-fired") == 0
    assert quantity(terms, "eventarc_events") == 4 * 30_000


def test_failures_add_what_one_retry_costs_beyond_a_live_sync() -> None:
    terms = pipeline_terms(Workload(1000, failure_rate=0.1), counts())
    failed = 3000
    assert quantity(terms, "firestore_document_reads", "transient failures") == 2 * failed
    assert quantity(terms, "firestore_document_writes", "transient failures") == 3 * failed
    assert quantity(terms, "tasks_operations", "transient failures") == 2 * failed
    assert quantity(terms, "functions_requests", "retry_worker (transient failures)") == failed
    assert quantity(terms, "functions_requests", "transient failures: re-fired") == failed


def test_the_extension_invokes_and_streams_a_row_per_write() -> None:
    workload = Workload(1000, updates_per_session=2)
    a = ExtensionAssumptions()
    terms = extension_terms(workload, {"active": 500, "completed": 1200}, a)
    assert quantity(terms, "functions_requests", "fsexportbigquery") == 4 * 30_000
    created = changelog_row_bytes(500, None, a)
    assert created == 1024  # 200 + 502 is under the 1 KB minimum
    updated = changelog_row_bytes(500, 500, a)
    assert updated == 200 + 502 + 502
    completed = changelog_row_bytes(1200, 500, a)
    per_session = created + 2 * updated + completed
    assert quantity(terms, "bigquery_streaming_inserts") == per_session * 30_000
    assert quantity(terms, "tasks_operations") == 0
    assert quantity(terms, "firestore_document_reads") == 0


def test_the_extensions_offset_backfill_reads_grow_with_the_square() -> None:
    assert offset_backfill_reads(4, 2) == 2 + 4
    assert offset_backfill_reads(5, 2) == 2 + 4 + 5
    reads = offset_backfill_reads(800_000, 200)
    assert reads == pytest.approx(800_000 * (800_000 / 200 + 1) / 2)


def test_the_bill_prices_every_service_and_names_the_dominant_term() -> None:
    result = estimate(Workload(1_000_000), counts(), load_prices())
    for bill in (result.ours, result.extension):
        assert set(bill.by_service()) >= set(SERVICES)
        assert bill.total == pytest.approx(sum(bill.by_service().values()))
        assert bill.dominant is not None
        assert bill.dominant.cost == max(t.cost for t in bill.terms)
    assert result.refiring.invocations == 30_000_000
    assert result.refiring.saving > 0
    assert result.refiring.moved_status_reads == 30_000_000


def test_terms_of_the_same_meter_and_label_are_merged() -> None:
    prices = load_prices()
    bill = price(
        "x", [Term("tasks_operations", "a", 1e6), Term("tasks_operations", "a", 1e6)], prices
    )
    [term] = bill.terms
    assert term.term.quantity == 2e6
    assert term.cost == pytest.approx(0.80)


def test_every_packaged_price_names_its_unit_source_and_date() -> None:
    prices = load_prices()
    assert prices.region == "asia-northeast1"
    assert "not subtracted" in prices.free_tiers
    for key, entry in prices.prices.items():
        assert entry.source.startswith("https://cloud.google.com/"), key
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry.taken), key
        assert entry.unit and entry.free_tier, key
        assert entry.confirmed or entry.note, f"{key} is unconfirmed and says nothing about it"


def test_a_price_without_its_source_is_refused() -> None:
    entry = {
        "service": "Firestore",
        "value": 1,
        "per": 1,
        "unit": "reads",
        "source": "memory",
        "taken": "2026-12-01",
        "confirmed": False,
        "free_tier": "",
        "note": "",
    }
    with pytest.raises(ConfigError, match="source"):
        parse_prices({"prices": {"reads": entry}})
    with pytest.raises(ConfigError, match="lacks"):
        parse_prices({"prices": {"reads": {"value": 1}}})


def test_the_packaged_counts_have_every_path_their_date_and_commit() -> None:
    measured = load_counts()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", measured.measured_at)
    assert re.fullmatch(r"[0-9a-f]{40}", measured.commit)
    live = measured.path("live")
    assert live.get(op.FIRESTORE_READS) == 1
    assert live.get(op.FIRESTORE_WRITES) == 1
    assert live.calls("trigger") == 3
    assert measured.document_bytes["completed"] > measured.document_bytes["active"] > 0
    with pytest.raises(ConfigError, match="lacks the path"):
        parse_counts({"paths": {}})
