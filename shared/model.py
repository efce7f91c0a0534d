"""Value objects the ports exchange: session snapshots, status updates, failure records, tasks."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, NamedTuple

from shared.contract import Origin

COMPLETED = "completed"
# Every field the pipeline writes on a session document starts with this; the rest is the app's.
SYNC_FIELD_PREFIX = "bigquerySync"
# `session-sync doctor --canary` probes under this user with session ids of this prefix;
# sessions_latest (shared/sql/sessions_latest.sql) and reconcile leave them out.
CANARY_USER_ID = "session-sync-canary"
CANARY_SESSION_PREFIX = "session-sync-canary-"


class SessionKey(NamedTuple):
    """Identity of `users/{user_id}/sessions/{session_id}`."""

    user_id: str
    session_id: str

    @property
    def path(self) -> str:
        return f"users/{self.user_id}/sessions/{self.session_id}"

    @classmethod
    def from_path(cls, path: str) -> SessionKey | None:
        """The key of `users/{userId}/sessions/{sessionId}`; None for any other path."""
        parts = path.split("/")
        if len(parts) != 4 or parts[0] != "users" or parts[2] != "sessions":
            return None
        return cls(parts[1], parts[3])

    def __str__(self) -> str:
        return f"{self.user_id}/{self.session_id}"


@dataclass(frozen=True)
class SessionSnapshot:
    """A session document as read: its data and the time of its last write (its version)."""

    key: SessionKey
    data: dict[str, Any]
    update_time: datetime | None = None

    @property
    def status(self) -> Any:
        return self.data.get("status")

    @property
    def synced_event_id(self) -> Any:
        return self.data.get("bigquerySyncEventId")

    @property
    def sync_status(self) -> Any:
        return self.data.get("bigquerySyncStatus")

    @property
    def synced_fingerprint(self) -> Any:
        """The content fingerprint of the row the `synced` status vouches for."""
        return self.data.get("bigquerySyncFingerprint")

    @property
    def synced_at(self) -> datetime | None:
        value = self.data.get("bigquerySyncedAt")
        return value if isinstance(value, datetime) else None

    @property
    def content(self) -> dict[str, Any]:
        """The app's fields: the document without the pipeline's `bigquerySync*` fields."""
        return {k: v for k, v in self.data.items() if not k.startswith(SYNC_FIELD_PREFIX)}


class SyncStatus(StrEnum):
    """`bigquerySyncStatus` on the session document."""

    SYNCED = "synced"
    FAILED = "failed"
    INVALID = "invalid"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class StatusUpdate:
    """The sync fields a worker writes on a session; `None` fields are left untouched.

    A `synced` update also records the event id and the fingerprint of the
    row's content, and clears the error.
    """

    status: SyncStatus
    event_id: str | None = None
    error: str | None = None
    retry_count: int | None = None
    fingerprint: str | None = None


class StatusWrite(NamedTuple):
    """A status update applied only if the session is still at version `expected`."""

    key: SessionKey
    update: StatusUpdate
    expected: datetime | None


class WriteResult(NamedTuple):
    """What became of one conditional status write."""

    committed_at: datetime | None = None  # applied at this server time
    rejected: str | None = None  # refused for good (e.g. the document would grow too large)

    @property
    def stale(self) -> bool:
        """The session had changed since it was read (or was deleted): nothing was written."""
        return self.committed_at is None and self.rejected is None


class FailureStatus(StrEnum):
    """`status` of a `bigquerySyncFailures` record."""

    PENDING = "pending"
    RESOLVED = "resolved"
    ABANDONED = "abandoned"
    INVALID = "invalid"


OPEN_FAILURE_STATUSES = (FailureStatus.PENDING, FailureStatus.ABANDONED)


def episode_id(event_id: str) -> str:
    """Deterministic id of the failure episode (record id and task name stem) of one event."""
    return "e" + hashlib.sha256(event_id.encode("utf-8")).hexdigest()[:40]


@dataclass(frozen=True)
class FailureRecord:
    """One failure episode in `bigquerySyncFailures/{record_id}`.

    Holds everything a replay needs: the session's ids and the event that failed.
    `generation` counts the attempt series (each has its own task name);
    `opened_at` is when the current series began; `version` is the document's
    update time as read, the precondition of the next transition.
    """

    record_id: str
    user_id: str
    session_id: str
    event_id: str
    failure_reason: str
    status: FailureStatus = FailureStatus.PENDING
    retry_count: int = 0
    origin: Origin = "trigger"
    table: str = "sessions"
    generation: int = 1
    redrive_count: int = 0
    created_at: datetime | None = None
    opened_at: datetime | None = None
    updated_at: datetime | None = None
    last_retry_at: datetime | None = None
    next_redrive_at: datetime | None = None
    resolved_at: datetime | None = None
    final_at: datetime | None = None
    version: datetime | None = None

    @property
    def key(self) -> SessionKey:
        return SessionKey(self.user_id, self.session_id)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_FAILURE_STATUSES and self.final_at is None


class Stamp(Enum):
    """A timestamp field a record change sets to the server's commit time."""

    OPENED = "openedAt"
    RETRIED = "lastRetryAt"
    REDRIVEN = "lastRedriveAt"
    RESOLVED = "resolvedAt"
    FINAL = "finalAt"


# The `FailureRecord` attribute of each stamp (the record does not keep `lastRedriveAt`).
_STAMPED = {
    Stamp.OPENED: "opened_at",
    Stamp.RETRIED: "last_retry_at",
    Stamp.RESOLVED: "resolved_at",
    Stamp.FINAL: "final_at",
}


@dataclass(frozen=True)
class RecordChange:
    """The fields one episode transition writes on a record; `None` leaves a field as it is."""

    status: FailureStatus | None = None
    reason: str | None = None
    retry_count: int | None = None
    generation: int | None = None
    redrive_count: int | None = None
    next_redrive_at: datetime | None = None
    unschedule: bool = False  # clear `next_redrive_at`: no redrive is due any more
    stamps: tuple[Stamp, ...] = ()

    def applied(self, record: FailureRecord, committed: datetime) -> FailureRecord:
        """`record` after this change was committed at server time `committed`."""
        values: dict[str, object] = {"version": committed, "updated_at": committed}
        for name, value in (
            ("status", self.status),
            ("failure_reason", self.reason),
            ("retry_count", self.retry_count),
            ("generation", self.generation),
            ("redrive_count", self.redrive_count),
            ("next_redrive_at", self.next_redrive_at),
        ):
            if value is not None:
                values[name] = value
        if self.unschedule:
            values["next_redrive_at"] = None
        values.update({_STAMPED[stamp]: committed for stamp in self.stamps if stamp in _STAMPED})
        return dataclasses.replace(record, **values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RetryTask:
    """A Cloud Tasks HTTP task asking the retry worker to sync one event again.

    Its name is unique per attempt series: a task name stays taken for a while
    after its task ended, so a new series needs a new name.
    """

    user_id: str
    session_id: str
    event_id: str
    table: str
    origin: Origin = "trigger"
    generation: int = 1

    @property
    def name(self) -> str:
        return f"{episode_id(self.event_id)}-{self.generation}"

    def body(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "session_id": self.session_id,
            "event_id": self.event_id,
            "table": self.table,
            "origin": self.origin,
            "generation": self.generation,
        }


class Enqueued(StrEnum):
    """What creating a named task found."""

    CREATED = "created"
    EXISTS = "exists"  # a live task of that name: the retry is already scheduled
    TOMBSTONED = "tombstoned"  # the name is taken by a task that ended: no retry behind it
