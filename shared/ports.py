"""Ports: the capabilities handlers need, as Protocols. Adapters in `shared.gcp` fill them.

Every method raises only `TransientError` or `PermanentError` (adapters translate
Google exceptions); handlers never see a Google exception.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from shared.contract import SessionCompleted
from shared.errors import PipelineError
from shared.model import (
    FailureRecord,
    FailureStatus,
    RetryTask,
    SessionKey,
    SessionSnapshot,
    StatusUpdate,
)


class SessionStore(Protocol):
    """Reads session documents and writes their sync status fields."""

    def get(self, key: SessionKey) -> SessionSnapshot | None:
        """One session, or None when it does not exist."""
        ...

    def get_many(self, keys: Sequence[SessionKey]) -> dict[SessionKey, SessionSnapshot | None]:
        """Several sessions in one round trip; absent ones map to None."""
        ...

    def update_status(self, key: SessionKey, update: StatusUpdate) -> None:
        """Write the sync fields of one existing session. Idempotent."""
        ...

    def update_statuses(self, updates: Sequence[tuple[SessionKey, StatusUpdate]]) -> None:
        """Write the sync fields of several sessions in batched commits. Idempotent."""
        ...

    def completed_sessions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        after: str | None = None,
        page_size: int = 500,
    ) -> Iterator[tuple[SessionSnapshot, str]]:
        """Stream completed sessions (collection-group query) in a stable order.

        Each item comes with a resume cursor; passing it as `after` continues
        right after that session. `since`/`until` filter on `startTime`.
        """
        ...


class FailureStore(Protocol):
    """The `bigquerySyncFailures` dead-letter records."""

    def open(self, record: FailureRecord) -> FailureRecord:
        """Create the record of an episode, or return the existing one (same id)."""
        ...

    def get(self, record_id: str) -> FailureRecord | None: ...

    def record_retry(self, record_id: str, *, retry_count: int, reason: str) -> None:
        """Note another failed retry of a pending episode."""
        ...

    def close(
        self,
        record_id: str,
        status: FailureStatus,
        *,
        reason: str | None = None,
        retry_count: int | None = None,
    ) -> None:
        """Set the final status of an episode (resolved, abandoned or invalid)."""
        ...

    def resolve_open(self, keys: Sequence[SessionKey]) -> int:
        """Resolve every pending or abandoned record of these sessions; return how many."""
        ...

    def list(
        self, *, status: FailureStatus | None = None, since: datetime | None = None
    ) -> Iterator[FailureRecord]:
        """Stream records, newest first, optionally by status and creation time."""
        ...


class Publisher(Protocol):
    """Publishes `SessionCompleted` messages to the live topic."""

    def publish(self, messages: Sequence[SessionCompleted]) -> list[str]:
        """Publish all, wait for every future, return the message ids in order."""
        ...


class RowSink(Protocol):
    """Streams rows into the BigQuery `sessions` table."""

    def insert(self, rows: Mapping[str, dict[str, Any]]) -> dict[str, PipelineError]:
        """Insert rows keyed by insert id; return the errors of rows that failed.

        A whole-request failure raises; per-row errors come back classified.
        """
        ...


class RetryQueue(Protocol):
    """The Cloud Tasks queue whose target is the retry worker."""

    def enqueue(self, task: RetryTask) -> None:
        """Create the named task; an existing task of that name counts as success."""
        ...


class RawDuplicates(NamedTuple):
    """Raw rows of `sessions` that repeat an earlier row of the same session, `synced_at` aside."""

    sessions: int  # sessions with at least one repeated row
    extra_rows: int  # rows beyond the first of each group of identical rows


class RowReader(Protocol):
    """Reads the BigQuery `sessions` table and its `sessions_latest` view, page by page."""

    def latest_rows(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stream the newest row of each session, ordered by (user_id_hash, session_id).

        `since`/`until` filter on `start_time` (since inclusive, until exclusive).
        """
        ...

    def raw_duplicates(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> RawDuplicates:
        """Count rows of `sessions` equal to another row of their session but for `synced_at`."""
        ...


class DeadLetter(NamedTuple):
    """One message held in the dead-letter subscription, leased until acked or released."""

    ack_id: str
    message_id: str
    data: bytes
    attributes: dict[str, str]


class DeadLetterSource(Protocol):
    """The dead-letter topic's hold subscription: messages Pub/Sub gave up delivering."""

    def pull(self, max_messages: int) -> list[DeadLetter]:
        """Lease up to `max_messages` held messages; an empty list when none is waiting."""
        ...

    def ack(self, ack_ids: Sequence[str]) -> None:
        """Remove these messages for good (once their replays are published)."""
        ...

    def release(self, ack_ids: Sequence[str]) -> None:
        """Hand these messages back at once, to stay held for a later run."""
        ...
