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


class SessionStore(Protocol):
    """Reads session documents and writes their sync status fields."""

    def get_many(self, keys: Sequence[SessionKey]) -> dict[SessionKey, SessionSnapshot | None]:
        """Several sessions in one round trip; absent ones map to None."""
        ...

    def write_statuses(self, writes: Sequence[StatusWrite]) -> dict[SessionKey, WriteResult]:
        """Apply each write only if its session is still at the expected version.

        A stale writer (the session changed since it was read, or was deleted)
        is a no-op, never an overwrite; a write Firestore refuses for good is
        reported, not raised. At most one write per key.
        """
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
    """The `bigquerySyncFailures` records, one per failure episode, and the redrive's state."""

    def create(self, record: FailureRecord) -> FailureRecord:
        """Create the record of an episode, or return the one that has its id (as stored)."""
        ...

    def get(self, record_id: str) -> FailureRecord | None: ...

    def get_many(self, record_ids: Sequence[str]) -> dict[str, FailureRecord]:
        """The records that exist among these ids, in one round trip."""
        ...

    def update(
        self, record_id: str, change: RecordChange, *, expected: datetime | None
    ) -> datetime | None:
        """Apply `change` only if the record is still at version `expected`.

        Returns the commit time (the record's new version), or None when the
        record changed meanwhile: a stale writer is a no-op.
        """
        ...

    def update_many(
        self, changes: Sequence[tuple[str, RecordChange, datetime | None]]
    ) -> dict[str, datetime | None]:
        """`update` for several records (record id, change, expected version), batched."""
        ...

    def open_records(self, keys: Sequence[SessionKey]) -> list[FailureRecord]:
        """The pending and abandoned records of these sessions."""
        ...

    def due(self, *, now: datetime, stuck_before: datetime, limit: int) -> Iterator[FailureRecord]:
        """Episodes the redrive should act on, oldest first, at most `limit`.

        Abandoned ones whose `next_redrive_at` has come, then pending ones not
        updated since `stuck_before` (their task is gone).
        """
        ...

    def redrive_state(self) -> RedriveState:
        """How the last redrive rounds went (a fresh state before the first)."""
        ...

    def save_redrive_state(self, state: RedriveState) -> None: ...

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
        """Insert rows keyed by insert id; return the error of every row not inserted.

        Never raises: a request that failed as a whole gives each of its rows
        a `TransientError`; only an error caused by the row itself is permanent.
        """
        ...


class RetryQueue(Protocol):
    """The Cloud Tasks queue whose target is the retry worker."""

    def enqueue(self, task: RetryTask) -> Enqueued:
        """Create the named task; say whether it was created, is live already, or is tombstoned."""
        ...


class RedriveState(NamedTuple):
    """The redrive's memory between rounds: failed rounds in a row and when to try again."""

    failed_rounds: int = 0
    next_round_at: datetime | None = None
    last_error: str = ""


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
