"""The benchmark's counting adapters and billed sizes, through the real handlers over fakes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from bench import billing_sizes
from bench.counting_ports import (
    CountingFailureStore,
    CountingPublisher,
    CountingQueue,
    CountingSessionStore,
    CountingSink,
)
from bench.ops import Ops
from cli.cost import operations as op
from shared.contract import SessionCompleted
from shared.model import SessionSnapshot
from shared.rows import session_row
from shared.sync import SyncPorts
from sync_worker.handler import Delivery, WorkerPorts, handle_deliveries
from tests.unit.documents import SYNCED_AT, full_document
from tests.unit.fakes import FakePublisher, World

ACTOR = "sync_worker"


def counted(world: World, tally: Ops) -> WorkerPorts:
    ports = world.ports
    sync = SyncPorts(
        sessions=CountingSessionStore(ports.sessions, tally, ACTOR),
        failures=CountingFailureStore(ports.failures, tally, ACTOR),
        sink=CountingSink(ports.sink, tally, ACTOR),
        pseudonymizer=ports.pseudonymizer,
        table=ports.table,
        clock=ports.clock,
        policy=ports.policy,
    )
    return WorkerPorts(sync, CountingQueue(world.queue, tally, ACTOR))


def deliveries(world: World, count: int) -> list[Delivery]:
    found = []
    for number in range(count):
        world.sessions.put(
            f"u{number}", f"s{number}", {**full_document(), "sessionId": f"s{number}"}
        )
        message = SessionCompleted(f"u{number}", f"s{number}", f"evt-{number}")
        found.append(Delivery(*message.encode(), f"m-{number}"))
    return found


def test_a_batch_of_ten_costs_one_read_one_row_and_one_write_each() -> None:
    world, tally = World(), Ops()
    handled = handle_deliveries(deliveries(world, 10), counted(world, tally))
    assert all(h.outcome == "synced" for h in handled)
    counts = tally.totals()
    assert counts[op.FIRESTORE_READS] == 10
    assert counts[op.FIRESTORE_WRITES] == 10
    assert counts[op.ROWS_STREAMED] == 10
    assert counts[op.STREAMING_BILLABLE] == 10 * 1024
    assert op.TASK_OPERATIONS not in counts


def test_a_transient_failure_costs_a_record_a_status_write_and_a_task() -> None:
    world, tally = World(), Ops()
    world.sink.outage.down = True
    [handled] = handle_deliveries(deliveries(world, 1), counted(world, tally))
    assert handled.outcome == "retry_enqueued"
    counts = tally.totals()
    assert counts[op.ROWS_REFUSED] == 1
    assert op.ROWS_STREAMED not in counts
    assert counts[op.FIRESTORE_WRITES] == 2  # the failure record, the session's `failed`
    assert counts[op.TASK_OPERATIONS] == 1


def test_publisher_bills_each_request_at_least_1000_bytes() -> None:
    tally = Ops()
    publisher = CountingPublisher(FakePublisher(), tally, "operator", per_request=1000)
    message = SessionCompleted("u1", "s1", "evt-1")
    publisher.publish([message] * 1500)
    size = billing_sizes.message_bytes(*message.encode())
    counts = tally.totals()
    assert counts[op.PUBLISHED] == 1500
    assert counts[op.PUBLISH_REQUESTS] == 2
    assert counts[op.PUBLISH_BILLABLE] == 1000 * size + max(1000, 500 * size)


class ScanOnly:
    """A session store edge that only pages completed sessions."""

    def __init__(self, count: int) -> None:
        self.count = count

    def completed_sessions(self, **_: object) -> Iterator[tuple[SessionSnapshot, str]]:
        world = World()
        for number in range(self.count):
            key = world.sessions.put("u", f"s{number}", full_document())
            yield SessionSnapshot(key, {}, None), f"token-{number}"


def test_a_scan_costs_a_read_per_document_and_one_for_an_empty_last_page() -> None:
    for documents, reads in ((3, 3), (4, 5), (0, 1)):
        tally = Ops()
        store = CountingSessionStore(ScanOnly(documents), tally, "operator")  # type: ignore[arg-type]
        assert len(list(store.completed_sessions(page_size=2))) == documents
        assert tally.totals()[op.FIRESTORE_READS] == reads


def test_row_bytes_follow_bigquerys_data_size_rules() -> None:
    row = session_row(
        "u1",
        "s1",
        full_document(),
        pseudonymizer=World().ports.pseudonymizer,
        synced_at=SYNCED_AT,
    )
    size = billing_sizes.row_bytes(row)
    strings = 2 + 64 + 2 + 2 + 2 + len("squat") + 2 + len("completed")  # hash, id, type, status
    assert size > strings
    assert size < 1024
    assert billing_sizes.streaming_billable_bytes(size) == 1024
    assert billing_sizes.value_bytes("STRING", "né") == 2 + 3
    assert billing_sizes.value_bytes("TIMESTAMP", datetime(2026, 1, 1)) == 8
    assert billing_sizes.value_bytes("FLOAT", None) == 0
    assert billing_sizes.query_billable_bytes(1) == 10 * 1024 * 1024
