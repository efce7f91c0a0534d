"""Small in-memory fakes of the ports, for unit tests only (integration tests use the emulators).

They follow the production rules the pipeline depends on: every write has a
server time (strictly increasing) that is the document's new version, and
conditional writes against an older version change nothing; a task name stays
taken after its task ended (tombstoned).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from shared.contract import SessionCompleted
from shared.errors import PipelineError, TransientError
from shared.healing import HealingPorts
from shared.healing_policy import HealingPolicy
from shared.model import (
    OPEN_FAILURE_STATUSES,
    Enqueued,
    FailureRecord,
    FailureStatus,
    RecordChange,
    RetryTask,
    SessionKey,
    SessionSnapshot,
    StatusWrite,
    SyncStatus,
    WriteResult,
)
from shared.ports import RawDuplicates, RedriveState
from shared.pseudonym import Pseudonymizer
from shared.sync import SyncPorts
from tests.unit.documents import SALT, SYNCED_AT


class Outage:
    """A switch a fake consults before each call."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    def check(self, what: str) -> None:
        self.calls += 1
        if self.down:
            raise TransientError(f"{what}: service unavailable")


class FakeClock:
    """Server time of the fakes: a microsecond passes per write; tests may advance it."""

    def __init__(self) -> None:
        self.moment = SYNCED_AT

    def now(self) -> datetime:
        return self.moment

    def tick(self) -> datetime:
        """The commit time of one more write."""
        self.moment += timedelta(microseconds=1)
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


class FakeSessions:
    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.documents: dict[SessionKey, dict[str, Any]] = {}
        self.versions: dict[SessionKey, datetime] = {}
        self.outage = Outage()
        self.batched_writes = 0
        self.reject_status_writes: set[SessionKey] = set()

    def put(self, user_id: str, session_id: str, data: dict[str, Any]) -> SessionKey:
        key = SessionKey(user_id, session_id)
        self.documents[key] = data
        self.versions[key] = self.clock.tick()
        return key

    def edit(self, key: SessionKey, **fields: Any) -> None:
        """The app changes a session's content."""
        self.documents[key].update(fields)
        self.versions[key] = self.clock.tick()

    def get_many(self, keys: Sequence[SessionKey]) -> dict[SessionKey, SessionSnapshot | None]:
        self.outage.check("read sessions")
        return {
            key: SessionSnapshot(key, dict(self.documents[key]), self.versions[key])
            if key in self.documents
            else None
            for key in keys
        }

    def write_statuses(self, writes: Sequence[StatusWrite]) -> dict[SessionKey, WriteResult]:
        self.outage.check("update statuses")
        self.batched_writes += 1
        return {write.key: self._write(write) for write in writes}

    def completed_sessions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        after: str | None = None,
        page_size: int = 500,
    ) -> Iterator[tuple[SessionSnapshot, str]]:
        """Completed sessions whose `startTime` is in the window, by path (cursor: the path)."""
        self.outage.check("list completed sessions")
        for key in sorted(self.documents, key=lambda k: k.path):
            document = self.documents[key]
            start = document.get("startTime")
            in_window = (since is None or start >= since) and (until is None or start < until)
            if document.get("status") == "completed" and in_window and key.path > (after or ""):
                yield SessionSnapshot(key, dict(document), self.versions[key]), key.path

    def _write(self, write: StatusWrite) -> WriteResult:
        key, update = write.key, write.update
        if key not in self.documents or self.versions[key] != write.expected:
            return WriteResult()
        if key in self.reject_status_writes:
            return WriteResult(rejected="InvalidArgument: the document would exceed 1 MiB")
        at = self.clock.tick()
        document = self.documents[key]
        document["bigquerySyncStatus"] = update.status.value
        if update.status is SyncStatus.SYNCED:
            document["bigquerySyncEventId"] = update.event_id
            document["bigquerySyncFingerprint"] = update.fingerprint
            document["bigquerySyncError"] = None
            document["bigquerySyncedAt"] = at
        elif update.error is not None:
            document["bigquerySyncError"] = update.error
        if update.retry_count is not None:
            document["bigquerySyncRetryCount"] = update.retry_count
        self.versions[key] = at
        return WriteResult(committed_at=at)


class FakeFailures:
    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.records: dict[str, FailureRecord] = {}
        self.outage = Outage()
        self.state = RedriveState()

    def create(self, record: FailureRecord) -> FailureRecord:
        self.outage.check("create record")
        if record.record_id not in self.records:
            at = self.clock.tick()
            self.records[record.record_id] = dataclasses.replace(
                record, created_at=at, opened_at=at, updated_at=at, version=at
            )
        return self.records[record.record_id]

    def get(self, record_id: str) -> FailureRecord | None:
        self.outage.check("read record")
        return self.records.get(record_id)

    def get_many(self, record_ids: Sequence[str]) -> dict[str, FailureRecord]:
        self.outage.check("read records")
        return {i: self.records[i] for i in record_ids if i in self.records}

    def update(
        self, record_id: str, change: RecordChange, *, expected: datetime | None
    ) -> datetime | None:
        return self.update_many([(record_id, change, expected)])[record_id]

    def update_many(
        self, changes: Sequence[tuple[str, RecordChange, datetime | None]]
    ) -> dict[str, datetime | None]:
        self.outage.check("update records")
        return {record_id: self._apply(record_id, c, e) for record_id, c, e in changes}

    def open_records(self, keys: Sequence[SessionKey]) -> list[FailureRecord]:
        self.outage.check("read open records")
        wanted = set(keys)
        return [
            r
            for r in self.records.values()
            if r.key in wanted and r.status in OPEN_FAILURE_STATUSES
        ]

    def due(self, *, now: datetime, stuck_before: datetime, limit: int) -> Iterator[FailureRecord]:
        self.outage.check("read due records")
        abandoned = sorted(
            (
                r
                for r in self.records.values()
                if r.status is FailureStatus.ABANDONED
                and r.next_redrive_at is not None
                and r.next_redrive_at <= now
            ),
            key=lambda r: r.next_redrive_at or now,
        )
        stuck = sorted(
            (
                r
                for r in self.records.values()
                if r.status is FailureStatus.PENDING
                and r.updated_at is not None
                and r.updated_at < stuck_before
            ),
            key=lambda r: r.updated_at or now,
        )
        return iter([*abandoned, *stuck][:limit])

    def redrive_state(self) -> RedriveState:
        self.outage.check("read redrive state")
        return self.state

    def save_redrive_state(self, state: RedriveState) -> None:
        self.outage.check("save redrive state")
        self.state = state

    def list(self, **_: Any) -> Iterator[FailureRecord]:
        return iter(self.records.values())

    def _apply(
        self, record_id: str, change: RecordChange, expected: datetime | None
    ) -> datetime | None:
        record = self.records.get(record_id)
        if record is None or record.version != expected:
            return None
        at = self.clock.tick()
        self.records[record_id] = change.applied(record, at)
        return at


class FakeSink:
    def __init__(self) -> None:
        self.rows: list[tuple[str, dict[str, Any]]] = []
        self.outage = Outage()
        self.row_errors: dict[str, PipelineError] = {}
        self.requests = 0
        self._interleaved: list[Callable[[], None]] = []

    def during_next_insert(self, action: Callable[[], None]) -> None:
        """Run `action` (another worker's work) while the next insert is in flight."""
        self._interleaved.append(action)

    def insert(self, rows: Mapping[str, dict[str, Any]]) -> dict[str, PipelineError]:
        """As `BigQueryRowSink`: never raises; a failed request fails each of its rows."""
        self.requests += 1
        if self._interleaved:
            self._interleaved.pop(0)()
        try:
            self.outage.check("insert rows")
        except TransientError as error:
            return dict.fromkeys(rows, error)
        errors = {k: v for k, v in self.row_errors.items() if k in rows}
        self.rows.extend((k, v) for k, v in rows.items() if k not in errors)
        return errors


class FakeQueue:
    """Cloud Tasks' naming rules: a name stays taken (tombstoned) after its task ended."""

    def __init__(self) -> None:
        self.tasks: dict[str, RetryTask] = {}  # every task ever created, by name
        self.ended: set[str] = set()
        self.outage = Outage()

    def enqueue(self, task: RetryTask) -> Enqueued:
        self.outage.check("enqueue")
        if task.name in self.tasks:
            return Enqueued.TOMBSTONED if task.name in self.ended else Enqueued.EXISTS
        self.tasks[task.name] = task
        return Enqueued.CREATED

    def live_tasks(self) -> list[RetryTask]:
        return [task for name, task in self.tasks.items() if name not in self.ended]

    def finish(self, task: RetryTask) -> None:
        """The task ended (2xx, or its last attempt); its name stays taken."""
        self.ended.add(task.name)


class FakeRows:
    """`sessions_latest` over what a `FakeSink` holds: the newest row of each session."""

    def __init__(self, sink: FakeSink) -> None:
        self.sink = sink

    def latest_rows(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        newest: dict[tuple[str, str], dict[str, Any]] = {}
        for _, row in self.sink.rows:
            start = datetime.fromisoformat(row["start_time"])
            if (since and start < since) or (until and start >= until):
                continue
            key = (row["user_id_hash"], row["session_id"])
            if key not in newest or row["synced_at"] >= newest[key]["synced_at"]:
                newest[key] = row
        for key in sorted(newest):
            row = newest[key]
            yield {**row, "synced_at": datetime.fromisoformat(row["synced_at"])}

    def raw_duplicates(self, **_: Any) -> RawDuplicates:
        return RawDuplicates(0, 0)


class FakePublisher:
    def __init__(self) -> None:
        self.messages: list[SessionCompleted] = []
        self.outage = Outage()

    def publish(self, messages: Sequence[SessionCompleted]) -> list[str]:
        self.outage.check("publish")
        self.messages.extend(messages)
        return [str(len(self.messages) - i) for i in range(len(messages))]


@dataclasses.dataclass
class World:
    """A full set of fakes sharing one server clock, plus the ports built from them."""

    clock: FakeClock = dataclasses.field(default_factory=FakeClock)
    sink: FakeSink = dataclasses.field(default_factory=FakeSink)
    queue: FakeQueue = dataclasses.field(default_factory=FakeQueue)
    publisher: FakePublisher = dataclasses.field(default_factory=FakePublisher)
    policy: HealingPolicy = dataclasses.field(default_factory=HealingPolicy)

    def __post_init__(self) -> None:
        self.sessions = FakeSessions(self.clock)
        self.failures = FakeFailures(self.clock)

    @property
    def ports(self) -> SyncPorts:
        return SyncPorts(
            sessions=self.sessions,
            failures=self.failures,
            sink=self.sink,
            pseudonymizer=Pseudonymizer(SALT),
            table="sessions",
            clock=self.clock.now,
            policy=self.policy,
        )

    @property
    def healing(self) -> HealingPorts:
        return HealingPorts(self.ports, self.publisher, FakeRows(self.sink))

    def deliver_published(self, since: int = 0) -> None:
        """Pub/Sub delivers what was published from message number `since` on."""
        from sync_worker.handler import Delivery, WorkerPorts, handle_deliveries

        published = self.publisher.messages[since:]
        deliveries = [Delivery(*m.encode(), f"p-{since + i}") for i, m in enumerate(published)]
        handle_deliveries(deliveries, WorkerPorts(self.ports, self.queue))

    def redrive_and_deliver(self) -> None:
        """One scheduled redrive round, then Pub/Sub delivers what it published."""
        from shared.redrive import redrive

        before = len(self.publisher.messages)
        redrive(self.healing)
        self.deliver_published(before)
