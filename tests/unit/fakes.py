"""Small in-memory fakes of the ports, for unit tests only (integration tests use the emulators)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shared.contract import SessionCompleted
from shared.errors import PipelineError, TransientError
from shared.model import (
    OPEN_FAILURE_STATUSES,
    FailureRecord,
    FailureStatus,
    RetryTask,
    SessionKey,
    SessionSnapshot,
    StatusUpdate,
    SyncStatus,
)
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


class FakeSessions:
    def __init__(self) -> None:
        self.documents: dict[SessionKey, dict[str, Any]] = {}
        self.outage = Outage()
        self.batched_writes = 0

    def put(self, user_id: str, session_id: str, data: dict[str, Any]) -> SessionKey:
        key = SessionKey(user_id, session_id)
        self.documents[key] = data
        return key

    def get(self, key: SessionKey) -> SessionSnapshot | None:
        return self.get_many([key])[key]

    def get_many(self, keys: Sequence[SessionKey]) -> dict[SessionKey, SessionSnapshot | None]:
        self.outage.check("read sessions")
        return {
            key: SessionSnapshot(key, dict(self.documents[key])) if key in self.documents else None
            for key in keys
        }

    def update_status(self, key: SessionKey, update: StatusUpdate) -> None:
        self.outage.check("update status")
        document = self.documents.get(key)
        if document is None:
            return
        document["bigquerySyncStatus"] = update.status.value
        if update.status is SyncStatus.SYNCED:
            document["bigquerySyncEventId"] = update.event_id
            document["bigquerySyncError"] = None
            document["bigquerySyncedAt"] = datetime.now(UTC)
        elif update.error is not None:
            document["bigquerySyncError"] = update.error
        if update.retry_count is not None:
            document["bigquerySyncRetryCount"] = update.retry_count

    def update_statuses(self, updates: Sequence[tuple[SessionKey, StatusUpdate]]) -> None:
        self.batched_writes += 1
        for key, update in updates:
            self.update_status(key, update)

    def completed_sessions(self, **_: Any) -> Iterator[tuple[SessionSnapshot, str]]:
        raise NotImplementedError


class FakeFailures:
    def __init__(self) -> None:
        self.records: dict[str, FailureRecord] = {}
        self.outage = Outage()

    def open(self, record: FailureRecord) -> FailureRecord:
        self.outage.check("open record")
        return self.records.setdefault(record.record_id, record)

    def get(self, record_id: str) -> FailureRecord | None:
        self.outage.check("read record")
        return self.records.get(record_id)

    def record_retry(self, record_id: str, *, retry_count: int, reason: str) -> None:
        self._replace(record_id, retry_count=retry_count, failure_reason=reason)

    def close(
        self,
        record_id: str,
        status: FailureStatus,
        *,
        reason: str | None = None,
        retry_count: int | None = None,
    ) -> None:
        changes: dict[str, Any] = {"status": status}
        if reason is not None:
            changes["failure_reason"] = reason
        if retry_count is not None:
            changes["retry_count"] = retry_count
        self._replace(record_id, **changes)

    def resolve_open(self, keys: Sequence[SessionKey]) -> int:
        wanted = set(keys)
        opened = [
            r
            for r in self.records.values()
            if r.key in wanted and r.status in OPEN_FAILURE_STATUSES
        ]
        for record in opened:
            self._replace(record.record_id, status=FailureStatus.RESOLVED)
        return len(opened)

    def list(self, **_: Any) -> Iterator[FailureRecord]:
        return iter(self.records.values())

    def _replace(self, record_id: str, **changes: Any) -> None:
        self.outage.check("update record")
        self.records[record_id] = dataclasses.replace(self.records[record_id], **changes)


class FakeSink:
    def __init__(self) -> None:
        self.rows: list[tuple[str, dict[str, Any]]] = []
        self.outage = Outage()
        self.row_errors: dict[str, PipelineError] = {}
        self.requests = 0

    def insert(self, rows: Mapping[str, dict[str, Any]]) -> dict[str, PipelineError]:
        self.requests += 1
        self.outage.check("insert rows")
        errors = {k: v for k, v in self.row_errors.items() if k in rows}
        self.rows.extend((k, v) for k, v in rows.items() if k not in errors)
        return errors


class FakeQueue:
    def __init__(self) -> None:
        self.tasks: dict[str, RetryTask] = {}
        self.outage = Outage()

    def enqueue(self, task: RetryTask) -> None:
        self.outage.check("enqueue")
        self.tasks.setdefault(task.name, task)


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
    """A full set of fakes plus the ports built from them."""

    sessions: FakeSessions = dataclasses.field(default_factory=FakeSessions)
    failures: FakeFailures = dataclasses.field(default_factory=FakeFailures)
    sink: FakeSink = dataclasses.field(default_factory=FakeSink)
    queue: FakeQueue = dataclasses.field(default_factory=FakeQueue)

    @property
    def ports(self) -> SyncPorts:
        return SyncPorts(
            sessions=self.sessions,
            failures=self.failures,
            sink=self.sink,
            pseudonymizer=Pseudonymizer(SALT),
            table="sessions",
            clock=lambda: SYNCED_AT,
        )
