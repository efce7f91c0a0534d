"""`SessionStore` over Firestore: `users/{userId}/sessions/{sessionId}` documents."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.gcp.errors import briefly_retried, translated
from shared.model import (
    COMPLETED,
    SessionKey,
    SessionSnapshot,
    StatusUpdate,
    StatusWrite,
    SyncStatus,
    WriteResult,
)

MAX_BATCH_WRITES = 500  # Firestore's limit per commit
# A commit fails as a whole when one write is stale (precondition), gone, or refused.
_REFUSED = (gexc.InvalidArgument, gexc.BadRequest)
_NOT_APPLIED = (gexc.FailedPrecondition, gexc.NotFound, *_REFUSED)


class FirestoreSessionStore:
    """Reads sessions and writes their `bigquerySync*` fields; never touches other fields."""

    def __init__(self, client: firestore.Client, *, timeout: float = 10.0) -> None:
        self._client = client
        self._timeout = timeout

    @briefly_retried
    def get_many(self, keys: Sequence[SessionKey]) -> dict[SessionKey, SessionSnapshot | None]:
        """One BatchGetDocuments round trip for all keys."""
        found: dict[SessionKey, SessionSnapshot | None] = dict.fromkeys(keys)
        if not keys:
            return found
        by_path = {key.path: key for key in keys}
        references = [self._client.document(path) for path in by_path]
        with translated("read sessions"):
            for document in self._client.get_all(references, retry=None, timeout=self._timeout):
                if document.exists:
                    key = by_path[document.reference.path]
                    found[key] = _snapshot(key, document)
        return found

    def write_statuses(self, writes: Sequence[StatusWrite]) -> dict[SessionKey, WriteResult]:
        """Batched commits of up to 500 writes, each preconditioned on the version read.

        One stale write fails its whole commit; that batch is then written
        document by document, so only the stale ones are skipped.
        """
        results: dict[SessionKey, WriteResult] = {}
        for start in range(0, len(writes), MAX_BATCH_WRITES):
            results.update(self._commit(writes[start : start + MAX_BATCH_WRITES]))
        return results

    @briefly_retried
    def _commit(self, writes: Sequence[StatusWrite]) -> dict[SessionKey, WriteResult]:
        batch = self._client.batch()
        for write in writes:
            batch.update(*self._conditional(write))
        with translated("update session statuses"):
            try:
                committed = batch.commit(retry=None, timeout=self._timeout)
            except _NOT_APPLIED:
                return {write.key: self._write_one(write) for write in writes}
        return {
            write.key: WriteResult(committed_at=result.update_time)
            for write, result in zip(writes, committed, strict=True)
        }

    def _write_one(self, write: StatusWrite) -> WriteResult:
        reference, fields, option = self._conditional(write)
        with translated("update session status"):
            try:
                result = reference.update(fields, option=option, retry=None, timeout=self._timeout)
            except (gexc.FailedPrecondition, gexc.NotFound):
                return WriteResult()
            except _REFUSED as error:
                return WriteResult(rejected=f"{type(error).__name__}: {error}")
        return WriteResult(committed_at=result.update_time)

    def _conditional(self, write: StatusWrite) -> tuple[Any, dict[str, Any], Any]:
        option = (
            self._client.write_option(last_update_time=write.expected)
            if write.expected is not None
            else None
        )
        return self._client.document(write.key.path), status_fields(write.update), option

    def completed_sessions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        after: str | None = None,
        page_size: int = 500,
    ) -> Iterator[tuple[SessionSnapshot, str]]:
        """Page through the `sessions` collection group, resumable from a cursor token.

        Raises `ValueError` at once (before any read) when `after` is not a token
        of this query's kind: ranged (`since`/`until`) and unranged tokens differ.
        Documents of `sessions` collections outside `users/{userId}` are skipped.
        """
        query = self._client.collection_group("sessions").where(
            filter=FieldFilter("status", "==", COMPLETED)
        )
        if since is not None:
            query = query.where(filter=FieldFilter("startTime", ">=", since))
        if until is not None:
            query = query.where(filter=FieldFilter("startTime", "<", until))
        ranged = since is not None or until is not None
        if ranged:
            query = query.order_by("startTime")
        query = query.order_by("__name__").limit(page_size)
        cursor = _decode_cursor(after, ranged=ranged) if after else None
        return self._pages(query, cursor, ranged=ranged, page_size=page_size)

    def _pages(
        self, query: Any, cursor: list[Any] | None, *, ranged: bool, page_size: int
    ) -> Iterator[tuple[SessionSnapshot, str]]:
        while True:
            page = self._page(query, cursor)
            for document in page:
                cursor = _cursor_values(document, ranged)
                key = SessionKey.from_path(document.reference.path)
                if key is not None:
                    yield _snapshot(key, document), _encode_cursor(cursor)
            if len(page) < page_size:
                return

    @briefly_retried
    def _page(self, query: Any, cursor: list[Any] | None) -> list[Any]:
        if cursor is not None:
            values: dict[str, Any] = {"__name__": self._client.document(cursor[-1])}
            if len(cursor) == 2:
                values["startTime"] = datetime.fromisoformat(cursor[0])
            query = query.start_after(values)
        with translated("list completed sessions"):
            return list(query.stream(retry=None, timeout=self._timeout))


def status_fields(update: StatusUpdate) -> dict[str, Any]:
    """The Firestore field values of a status update."""
    fields: dict[str, Any] = {"bigquerySyncStatus": update.status.value}
    if update.status is SyncStatus.SYNCED:
        fields["bigquerySyncedAt"] = firestore.SERVER_TIMESTAMP
        fields["bigquerySyncEventId"] = update.event_id
        fields["bigquerySyncFingerprint"] = update.fingerprint
        fields["bigquerySyncError"] = None
    elif update.error is not None:
        fields["bigquerySyncError"] = update.error[:1500]
    if update.retry_count is not None:
        fields["bigquerySyncRetryCount"] = update.retry_count
    return fields


def _snapshot(key: SessionKey, document: Any) -> SessionSnapshot:
    return SessionSnapshot(key, document.to_dict() or {}, _update_time(document))


def _update_time(document: Any) -> datetime | None:
    """The document's last write time as an aware datetime.

    `get` returns a datetime, but query results carry a protobuf `Timestamp`.
    """
    value = document.update_time
    if value is None or isinstance(value, datetime):
        return value
    moment: datetime = value.ToDatetime(tzinfo=UTC)
    return moment


def _cursor_values(document: Any, ranged: bool) -> list[Any]:
    path = document.reference.path
    if not ranged:
        return [path]
    start = document.get("startTime")
    return [start.isoformat() if isinstance(start, datetime) else start, path]


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _cursor_ok(values: list[Any]) -> bool:
    """Whether decoded cursor values name a session path (after a startTime, when ranged)."""
    if not all(isinstance(value, str) for value in values):
        return False
    if SessionKey.from_path(values[-1]) is None:
        return False
    if len(values) == 2:
        try:
            datetime.fromisoformat(values[0])
        except ValueError:
            return False
    return True


def _decode_cursor(token: str, *, ranged: bool) -> list[Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError):
        raise ValueError(f"not a resume token: {token!r}") from None
    if not isinstance(values, list) or not 1 <= len(values) <= 2 or not _cursor_ok(values):
        raise ValueError(f"not a resume token: {token!r}")
    if (len(values) == 2) != ranged:
        kind = "with" if len(values) == 2 else "without"
        raise ValueError(f"the token is from a query {kind} a startTime range; use the same range")
    return values
