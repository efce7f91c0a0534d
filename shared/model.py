"""Value objects the ports exchange: session snapshots, status updates, failure records, tasks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from shared.contract import Origin

COMPLETED = "completed"


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
    """A session document as read: its data and the time of its last write."""

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


class SyncStatus(StrEnum):
    """`bigquerySyncStatus` on the session document."""

    SYNCED = "synced"
    FAILED = "failed"
    INVALID = "invalid"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class StatusUpdate:
    """The sync fields a worker writes on a session; `None` fields are left untouched.

    A `synced` update also records the event id and clears the error.
    """

    status: SyncStatus
    event_id: str | None = None
    error: str | None = None
    retry_count: int | None = None


class FailureStatus(StrEnum):
    """`status` of a `bigquerySyncFailures` record."""

    PENDING = "pending"
    RESOLVED = "resolved"
    ABANDONED = "abandoned"
    INVALID = "invalid"


OPEN_FAILURE_STATUSES = (FailureStatus.PENDING, FailureStatus.ABANDONED)


def episode_id(event_id: str) -> str:
    """Deterministic id of the failure episode (record id and task name) of one event."""
    return "e" + hashlib.sha256(event_id.encode("utf-8")).hexdigest()[:40]


@dataclass(frozen=True)
class FailureRecord:
    """One failure episode in `bigquerySyncFailures/{record_id}`.

    Holds everything a replay needs: the session's ids and the event that failed.
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
    created_at: datetime | None = None
    last_retry_at: datetime | None = None
    resolved_at: datetime | None = None

    @property
    def key(self) -> SessionKey:
        return SessionKey(self.user_id, self.session_id)


@dataclass(frozen=True)
class RetryTask:
    """A Cloud Tasks HTTP task asking the retry worker to sync one event again."""

    user_id: str
    session_id: str
    event_id: str
    table: str
    origin: Origin = "trigger"

    @property
    def name(self) -> str:
        return episode_id(self.event_id)

    def body(self) -> dict[str, str]:
        return {
            "user_id": self.user_id,
            "session_id": self.session_id,
            "event_id": self.event_id,
            "table": self.table,
            "origin": self.origin,
        }
