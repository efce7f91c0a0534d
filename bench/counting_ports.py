"""Counting wrappers around the real adapters: each port call is tallied as what it bills.

They implement the ports of `shared/ports.py` and delegate every call, so the
pipeline's code runs unchanged; only the benchmark's composition root wraps
the adapters. Billing rules applied (see docs/cost.md):

- Firestore: one read per document requested or returned; a query that returns
  nothing still costs one read; one write per document written.
- Pub/Sub: each publish request is billed as at least 1000 bytes.
- BigQuery: each streamed row as at least 1 KB; rows refused are not billed.
- Cloud Tasks: one operation per API call (a taken name costs a second call).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from bench import billing_sizes
from bench.ops import Ops
from cli.cost import operations as op
from shared.contract import SessionCompleted
from shared.errors import PipelineError
from shared.model import (
    Enqueued,
    FailureRecord,
    FailureStatus,
    RecordChange,
    RetryTask,
    SessionKey,
    SessionSnapshot,
    StatusWrite,
    WriteResult,
)
from shared.ports import (
    FailureStore,
    Publisher,
    RawDuplicates,
    RedriveState,
    RetryQueue,
    RowReader,
    RowSink,
    SessionStore,
)

IN_FILTER_VALUES = 30  # the failure store queries `in` at most this many sessions at once
# Bytes a query scans, given (through the view?, since, until).
ScanSize = Callable[[bool, datetime | None, datetime | None], int]


class CountingSessionStore:
    """`SessionStore` that tallies document reads and writes."""

    def __init__(self, inner: SessionStore, tally: Ops, actor: str) -> None:
        self._inner, self._ops, self._actor = inner, tally, actor

    def get_many(self, keys: Sequence[SessionKey]) -> dict[SessionKey, SessionSnapshot | None]:
        self._ops.add(self._actor, op.FIRESTORE_READS, len(keys))
        return self._inner.get_many(keys)

    def write_statuses(self, writes: Sequence[StatusWrite]) -> dict[SessionKey, WriteResult]:
        self._ops.add(self._actor, op.FIRESTORE_WRITES, len(writes))
        return self._inner.write_statuses(writes)

    def completed_sessions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        after: str | None = None,
        page_size: int = 500,
    ) -> Iterator[tuple[SessionSnapshot, str]]:
        items = self._inner.completed_sessions(
            since=since, until=until, after=after, page_size=page_size
        )
        return _paged_reads(items, self._ops, self._actor, page_size)


class CountingFailureStore:
    """`FailureStore` that tallies document reads and writes of failure records."""

    def __init__(self, inner: FailureStore, tally: Ops, actor: str) -> None:
        self._inner, self._ops, self._actor = inner, tally, actor

    def _read(self, count: int) -> None:
        self._ops.add(self._actor, op.FIRESTORE_READS, count)

    def _write(self, count: int) -> None:
        self._ops.add(self._actor, op.FIRESTORE_WRITES, count)

    def create(self, record: FailureRecord) -> FailureRecord:
        self._write(1)
        return self._inner.create(record)

    def get(self, record_id: str) -> FailureRecord | None:
        self._read(1)
        return self._inner.get(record_id)

    def get_many(self, record_ids: Sequence[str]) -> dict[str, FailureRecord]:
        self._read(len(record_ids))
        return self._inner.get_many(record_ids)

    def update(
        self, record_id: str, change: RecordChange, *, expected: datetime | None
    ) -> datetime | None:
        self._write(1)
        return self._inner.update(record_id, change, expected=expected)

    def update_many(
        self, changes: Sequence[tuple[str, RecordChange, datetime | None]]
    ) -> dict[str, datetime | None]:
        self._write(len(changes))
        return self._inner.update_many(changes)

    def open_records(self, keys: Sequence[SessionKey]) -> list[FailureRecord]:
        found = self._inner.open_records(keys)
        queries = math.ceil(len(set(keys)) / IN_FILTER_VALUES)
        self._read(max(len(found), queries))
        return found

    def due(self, *, now: datetime, stuck_before: datetime, limit: int) -> Iterator[FailureRecord]:
        """Two queries (abandoned, then stuck pending): at least two reads when both run."""
        records = self._inner.due(now=now, stuck_before=stuck_before, limit=limit)
        return _counted(records, lambda n: self._read(max(n, 2) if n < limit else n))

    def redrive_state(self) -> RedriveState:
        self._read(1)
        return self._inner.redrive_state()

    def save_redrive_state(self, state: RedriveState) -> None:
        self._write(1)
        self._inner.save_redrive_state(state)

    def list(
        self, *, status: FailureStatus | None = None, since: datetime | None = None
    ) -> Iterator[FailureRecord]:
        records = self._inner.list(status=status, since=since)
        return _counted(records, lambda n: self._read(max(n, 1)))


class CountingPublisher:
    """`Publisher` that tallies messages, publish requests and their billed bytes.

    `per_request` is the client's batch size (the trigger's client sends one
    message per request; operator commands and the redrive up to 1000).
    """

    def __init__(self, inner: Publisher, tally: Ops, actor: str, *, per_request: int) -> None:
        self._inner, self._ops, self._actor = inner, tally, actor
        self._per_request = per_request

    def publish(self, messages: Sequence[SessionCompleted]) -> list[str]:
        ids = self._inner.publish(messages)
        sizes = [billing_sizes.message_bytes(*message.encode()) for message in messages]
        add = self._ops.add
        add(self._actor, op.PUBLISHED, len(messages))
        add(self._actor, op.MESSAGE_BYTES, sum(sizes))
        for start in range(0, len(sizes), self._per_request):
            request = sizes[start : start + self._per_request]
            add(self._actor, op.PUBLISH_REQUESTS)
            add(self._actor, op.PUBLISH_BILLABLE, billing_sizes.pubsub_billable_bytes(sum(request)))
        return ids


class CountingSink:
    """`RowSink` that tallies rows streamed, their size and billed size; refused rows apart."""

    def __init__(self, inner: RowSink, tally: Ops, actor: str) -> None:
        self._inner, self._ops, self._actor = inner, tally, actor

    def insert(self, rows: Mapping[str, dict[str, Any]]) -> dict[str, PipelineError]:
        errors = self._inner.insert(rows)
        add = self._ops.add
        for insert_id, row in rows.items():
            if insert_id in errors:
                add(self._actor, op.ROWS_REFUSED)
                continue
            size = billing_sizes.row_bytes(row)
            add(self._actor, op.ROWS_STREAMED)
            add(self._actor, op.ROW_BYTES, size)
            add(self._actor, op.STREAMING_BILLABLE, billing_sizes.streaming_billable_bytes(size))
        return errors


class CountingQueue:
    """`RetryQueue` that tallies Cloud Tasks API calls (a taken name also costs a `get`)."""

    def __init__(self, inner: RetryQueue, tally: Ops, actor: str) -> None:
        self._inner, self._ops, self._actor = inner, tally, actor

    def enqueue(self, task: RetryTask) -> Enqueued:
        result = self._inner.enqueue(task)
        calls = 1 if result is Enqueued.CREATED else 2
        self._ops.add(self._actor, op.TASK_OPERATIONS, calls)
        return result


class CountingRowReader:
    """`RowReader` that tallies queries and the bytes each scans, as `scan_size` computes them.

    `sessions_latest` numbers every row of `sessions` before filtering, so a
    query through the view scans the whole table whatever its window.
    """

    def __init__(self, inner: RowReader, tally: Ops, actor: str, scan_size: ScanSize) -> None:
        self._inner, self._ops, self._actor = inner, tally, actor
        self.scan_size = scan_size

    def _query(self, through_view: bool, since: datetime | None, until: datetime | None) -> None:
        scanned = self.scan_size(through_view, since, until)
        self._ops.add(self._actor, op.QUERIES)
        self._ops.add(self._actor, op.QUERY_BYTES, scanned)
        self._ops.add(self._actor, op.QUERY_BILLABLE, billing_sizes.query_billable_bytes(scanned))

    def latest_rows(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        self._query(True, since, until)
        return self._inner.latest_rows(since=since, until=until)

    def raw_duplicates(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> RawDuplicates:
        self._query(False, since, until)
        return self._inner.raw_duplicates(since=since, until=until)


def _paged_reads(
    items: Iterator[tuple[SessionSnapshot, str]], tally: Ops, actor: str, page_size: int
) -> Iterator[tuple[SessionSnapshot, str]]:
    """Count one read per document; the last page query, when it returns nothing, one more."""
    count = 0
    for item in items:
        count += 1
        tally.add(actor, op.FIRESTORE_READS)
        yield item
    if count % page_size == 0:
        tally.add(actor, op.FIRESTORE_READS)


def _counted(
    items: Iterator[FailureRecord], done: Callable[[int], None]
) -> Iterator[FailureRecord]:
    """Pass records through; once exhausted, report how many there were."""
    count = 0
    for item in items:
        count += 1
        yield item
    done(count)
