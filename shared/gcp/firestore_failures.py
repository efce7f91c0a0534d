"""`FailureStore` over the Firestore collection `bigquerySyncFailures` (and the redrive's state)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.contract import ORIGINS, Origin
from shared.gcp.errors import briefly_retried, translated
from shared.model import (
    OPEN_FAILURE_STATUSES,
    FailureRecord,
    FailureStatus,
    RecordChange,
    SessionKey,
)
from shared.ports import RedriveState

COLLECTION = "bigquerySyncFailures"
STATE_COLLECTION = "bigquerySyncRedrive"
STATE_DOCUMENT = "state"
MAX_IN_VALUES = 30  # Firestore's limit for an `in` filter
MAX_BATCH_WRITES = 500  # Firestore's limit per commit
PAGE_SIZE = 500
REASON_CHARS = 1500


class FirestoreFailureStore:
    """One document per failure episode; the id is derived from the event id.

    Every change is preconditioned on the version (update time) it was decided
    on, so a writer that read an older version changes nothing.
    """

    def __init__(self, client: firestore.Client, *, timeout: float = 10.0) -> None:
        self._client = client
        self._collection = client.collection(COLLECTION)
        self._state = client.collection(STATE_COLLECTION).document(STATE_DOCUMENT)
        self._timeout = timeout

    @briefly_retried
    def create(self, record: FailureRecord) -> FailureRecord:
        """Create the record, or return the one that already has this id. Idempotent."""
        reference = self._collection.document(record.record_id)
        with translated("create failure record"):
            try:
                result = reference.create(record_fields(record), retry=None, timeout=self._timeout)
            except gexc.AlreadyExists:  # the same episode was recorded before (not Aborted)
                return _record(reference.get(retry=None, timeout=self._timeout))
        at = result.update_time
        return _created(record, at)

    @briefly_retried
    def get(self, record_id: str) -> FailureRecord | None:
        with translated("read failure record"):
            document = self._collection.document(record_id).get(retry=None, timeout=self._timeout)
        return _record(document) if document.exists else None

    @briefly_retried
    def get_many(self, record_ids: Sequence[str]) -> dict[str, FailureRecord]:
        """One BatchGetDocuments round trip."""
        if not record_ids:
            return {}
        references = [self._collection.document(record_id) for record_id in record_ids]
        with translated("read failure records"):
            documents = self._client.get_all(references, retry=None, timeout=self._timeout)
            return {document.id: _record(document) for document in documents if document.exists}

    def update(
        self, record_id: str, change: RecordChange, *, expected: datetime | None
    ) -> datetime | None:
        """Apply the change at version `expected`; its commit time, or None when stale."""
        return self.update_many([(record_id, change, expected)])[record_id]

    def update_many(
        self, changes: Sequence[tuple[str, RecordChange, datetime | None]]
    ) -> dict[str, datetime | None]:
        """Batched commits of up to 500 preconditioned updates; stale ones come back None."""
        results: dict[str, datetime | None] = {}
        for start in range(0, len(changes), MAX_BATCH_WRITES):
            results.update(self._commit(changes[start : start + MAX_BATCH_WRITES]))
        return results

    @briefly_retried
    def open_records(self, keys: Sequence[SessionKey]) -> list[FailureRecord]:
        """The pending and abandoned records of these sessions, `MAX_IN_VALUES` keys per query."""
        session_keys = list(dict.fromkeys(str(key) for key in keys))
        found: list[FailureRecord] = []
        with translated("read open failure records"):
            for start in range(0, len(session_keys), MAX_IN_VALUES):
                chunk = session_keys[start : start + MAX_IN_VALUES]
                query = self._collection.where(filter=FieldFilter("sessionKey", "in", chunk))
                for document in query.stream(retry=None, timeout=self._timeout):
                    if document.get("status") in OPEN_FAILURE_STATUSES:
                        found.append(_record(document))
        return found

    def due(self, *, now: datetime, stuck_before: datetime, limit: int) -> Iterator[FailureRecord]:
        """Abandoned records whose redrive time came, then pending ones untouched too long.

        Needs the composite indexes (status, nextRedriveAt) and (status, updatedAt).
        A final record has no `nextRedriveAt`, so it is never due.
        """
        queries = (
            self._collection.where(filter=FieldFilter("status", "==", "abandoned"))
            .where(filter=FieldFilter("nextRedriveAt", "<=", now))
            .order_by("nextRedriveAt"),
            self._collection.where(filter=FieldFilter("status", "==", "pending"))
            .where(filter=FieldFilter("updatedAt", "<", stuck_before))
            .order_by("updatedAt"),
        )
        left = limit
        for query in queries:
            for record in self._paged(query, left):
                yield record
                left -= 1
            if left <= 0:
                return

    @briefly_retried
    def redrive_state(self) -> RedriveState:
        with translated("read redrive state"):
            document = self._state.get(retry=None, timeout=self._timeout)
        data = document.to_dict() or {}
        return RedriveState(
            failed_rounds=int(data.get("failedRounds") or 0),
            next_round_at=data.get("nextRoundAt"),
            last_error=str(data.get("lastError") or ""),
        )

    @briefly_retried
    def save_redrive_state(self, state: RedriveState) -> None:
        fields = {
            "failedRounds": state.failed_rounds,
            "nextRoundAt": state.next_round_at,
            "lastError": state.last_error[:REASON_CHARS],
            "updatedAt": firestore.SERVER_TIMESTAMP,
        }
        with translated("save redrive state"):
            self._state.set(fields, retry=None, timeout=self._timeout)

    def list(
        self, *, status: FailureStatus | None = None, since: datetime | None = None
    ) -> Iterator[FailureRecord]:
        """Stream records, newest first, a page of `PAGE_SIZE` per request.

        Each page is its own short request, so a long listing never outlives
        one request's deadline.
        """
        query: Any = self._collection
        if status is not None:
            query = query.where(filter=FieldFilter("status", "==", status.value))
        if since is not None:
            query = query.where(filter=FieldFilter("createdAt", ">=", since))
        query = query.order_by("createdAt", direction=firestore.Query.DESCENDING).order_by(
            "__name__", direction=firestore.Query.DESCENDING
        )
        yield from self._paged(query, None)

    def _paged(self, query: Any, limit: int | None) -> Iterator[FailureRecord]:
        last: Any = None
        served = 0
        while limit is None or served < limit:
            size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - served)
            page = self._page(query.limit(size), last)
            for document in page:
                yield _record(document)
            served += len(page)
            if len(page) < size:
                return
            last = page[-1]

    @briefly_retried
    def _page(self, query: Any, last: Any) -> tuple[Any, ...]:
        if last is not None:
            query = query.start_after(last)
        with translated("list failure records"):
            return tuple(query.stream(retry=None, timeout=self._timeout))

    @briefly_retried
    def _commit(
        self, changes: Sequence[tuple[str, RecordChange, datetime | None]]
    ) -> dict[str, datetime | None]:
        batch = self._client.batch()
        for record_id, change, expected in changes:
            batch.update(*self._conditional(record_id, change, expected))
        with translated("update failure records"):
            try:
                committed = batch.commit(retry=None, timeout=self._timeout)
            except (gexc.FailedPrecondition, gexc.NotFound):
                return {record_id: self._update_one(record_id, c, e) for record_id, c, e in changes}
        return {
            record_id: result.update_time
            for (record_id, _, _), result in zip(changes, committed, strict=True)
        }

    def _update_one(
        self, record_id: str, change: RecordChange, expected: datetime | None
    ) -> datetime | None:
        reference, fields, option = self._conditional(record_id, change, expected)
        try:
            result = reference.update(fields, option=option, retry=None, timeout=self._timeout)
        except (gexc.FailedPrecondition, gexc.NotFound):
            return None
        return cast(datetime, result.update_time)

    def _conditional(
        self, record_id: str, change: RecordChange, expected: datetime | None
    ) -> tuple[Any, dict[str, Any], Any]:
        option = (
            self._client.write_option(last_update_time=expected) if expected is not None else None
        )
        return self._collection.document(record_id), change_fields(change), option


def change_fields(change: RecordChange) -> dict[str, Any]:
    """The Firestore field values of a record change."""
    fields: dict[str, Any] = {"updatedAt": firestore.SERVER_TIMESTAMP}
    for name, value in (
        ("status", change.status.value if change.status is not None else None),
        ("failureReason", change.reason[:REASON_CHARS] if change.reason is not None else None),
        ("retryCount", change.retry_count),
        ("generation", change.generation),
        ("redriveCount", change.redrive_count),
        ("nextRedriveAt", change.next_redrive_at),
    ):
        if value is not None:
            fields[name] = value
    if change.unschedule:
        fields["nextRedriveAt"] = None
    for stamp in change.stamps:
        fields[stamp.value] = firestore.SERVER_TIMESTAMP
    return fields


def record_fields(record: FailureRecord) -> dict[str, Any]:
    """The Firestore fields of a new record."""
    return {
        "userId": record.user_id,
        "sessionId": record.session_id,
        "sessionKey": str(record.key),
        "eventId": record.event_id,
        "origin": record.origin,
        "table": record.table,
        "failureReason": record.failure_reason[:REASON_CHARS],
        "status": record.status.value,
        "retryCount": record.retry_count,
        "generation": record.generation,
        "redriveCount": record.redrive_count,
        "lastRetryAt": None,
        "lastRedriveAt": None,
        "nextRedriveAt": None,
        "createdAt": firestore.SERVER_TIMESTAMP,
        "openedAt": firestore.SERVER_TIMESTAMP,
        "updatedAt": firestore.SERVER_TIMESTAMP,
        "resolvedAt": None,
        "finalAt": None,
    }


def _created(record: FailureRecord, at: datetime) -> FailureRecord:
    """The record as `_fields` stored it at server time `at` (the reason cut, no schedule)."""
    return dataclasses.replace(
        record,
        failure_reason=record.failure_reason[:REASON_CHARS],
        created_at=at,
        opened_at=at,
        updated_at=at,
        last_retry_at=None,
        next_redrive_at=None,
        resolved_at=None,
        final_at=None,
        version=at,
    )


def _record(document: Any) -> FailureRecord:
    data = document.to_dict() or {}
    return FailureRecord(
        record_id=document.id,
        user_id=data.get("userId", ""),
        session_id=data.get("sessionId", ""),
        event_id=data.get("eventId", ""),
        failure_reason=data.get("failureReason", ""),
        status=FailureStatus(data.get("status", FailureStatus.PENDING.value)),
        retry_count=int(data.get("retryCount") or 0),
        origin=_origin(data.get("origin")),
        table=data.get("table", ""),
        generation=int(data.get("generation") or 1),
        redrive_count=int(data.get("redriveCount") or 0),
        created_at=data.get("createdAt"),
        opened_at=data.get("openedAt") or data.get("createdAt"),
        updated_at=data.get("updatedAt"),
        last_retry_at=data.get("lastRetryAt"),
        next_redrive_at=data.get("nextRedriveAt"),
        resolved_at=data.get("resolvedAt"),
        final_at=data.get("finalAt"),
        version=document.update_time,
    )


def _origin(value: Any) -> Origin:
    return cast(Origin, value) if value in ORIGINS else "trigger"
