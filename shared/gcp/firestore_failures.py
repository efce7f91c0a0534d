"""`FailureStore` over the Firestore collection `bigquerySyncFailures`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.contract import ORIGINS, Origin
from shared.gcp.errors import briefly_retried, translated
from shared.model import OPEN_FAILURE_STATUSES, FailureRecord, FailureStatus, SessionKey

COLLECTION = "bigquerySyncFailures"
MAX_IN_VALUES = 30  # Firestore's limit for an `in` filter
PAGE_SIZE = 500


class FirestoreFailureStore:
    """One document per failure episode; the id is derived from the event id."""

    def __init__(self, client: firestore.Client, *, timeout: float = 10.0) -> None:
        self._client = client
        self._collection = client.collection(COLLECTION)
        self._timeout = timeout

    @briefly_retried
    def open(self, record: FailureRecord) -> FailureRecord:
        """Create the record, or return the one that already has this id. Idempotent."""
        reference = self._collection.document(record.record_id)
        with translated("open failure record"):
            try:
                reference.create(_fields(record), retry=None, timeout=self._timeout)
            except gexc.AlreadyExists:  # the same episode was recorded before (not Aborted)
                pass
            document = reference.get(retry=None, timeout=self._timeout)
        return _record(document)

    @briefly_retried
    def get(self, record_id: str) -> FailureRecord | None:
        with translated("read failure record"):
            document = self._collection.document(record_id).get(retry=None, timeout=self._timeout)
        return _record(document) if document.exists else None

    @briefly_retried
    def record_retry(self, record_id: str, *, retry_count: int, reason: str) -> None:
        fields = {
            "retryCount": retry_count,
            "lastRetryAt": firestore.SERVER_TIMESTAMP,
            "failureReason": reason[:1500],
            "updatedAt": firestore.SERVER_TIMESTAMP,
        }
        self._update(record_id, fields)

    @briefly_retried
    def close(
        self,
        record_id: str,
        status: FailureStatus,
        *,
        reason: str | None = None,
        retry_count: int | None = None,
    ) -> None:
        fields: dict[str, Any] = {"status": status.value, "updatedAt": firestore.SERVER_TIMESTAMP}
        if status is FailureStatus.RESOLVED:
            fields["resolvedAt"] = firestore.SERVER_TIMESTAMP
        if reason is not None:
            fields["failureReason"] = reason[:1500]
        if retry_count is not None:
            fields["retryCount"] = retry_count
        self._update(record_id, fields)

    @briefly_retried
    def resolve_open(self, keys: Sequence[SessionKey]) -> int:
        """Resolve every pending or abandoned record of these sessions in batched writes."""
        session_keys = list(dict.fromkeys(str(key) for key in keys))
        batch = self._client.batch()
        resolved = 0
        with translated("resolve failure records"):
            for start in range(0, len(session_keys), MAX_IN_VALUES):
                chunk = session_keys[start : start + MAX_IN_VALUES]
                query = self._collection.where(filter=FieldFilter("sessionKey", "in", chunk))
                for document in query.stream(retry=None, timeout=self._timeout):
                    if document.get("status") in OPEN_FAILURE_STATUSES:
                        batch.update(
                            document.reference,
                            {
                                "status": FailureStatus.RESOLVED.value,
                                "resolvedAt": firestore.SERVER_TIMESTAMP,
                                "updatedAt": firestore.SERVER_TIMESTAMP,
                            },
                        )
                        resolved += 1
            if resolved:
                batch.commit(retry=None, timeout=self._timeout)
        return resolved

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
        last: Any = None
        while True:
            page = self._page(query.limit(PAGE_SIZE), last)
            for document in page:
                yield _record(document)
            if len(page) < PAGE_SIZE:
                return
            last = page[-1]

    @briefly_retried
    def _page(self, query: Any, last: Any) -> tuple[Any, ...]:
        if last is not None:
            query = query.start_after(last)
        with translated("list failure records"):
            return tuple(query.stream(retry=None, timeout=self._timeout))

    def _update(self, record_id: str, fields: dict[str, Any]) -> None:
        with translated("update failure record"):
            self._collection.document(record_id).update(fields, retry=None, timeout=self._timeout)


def _fields(record: FailureRecord) -> dict[str, Any]:
    return {
        "userId": record.user_id,
        "sessionId": record.session_id,
        "sessionKey": str(record.key),
        "eventId": record.event_id,
        "origin": record.origin,
        "table": record.table,
        "failureReason": record.failure_reason[:1500],
        "status": record.status.value,
        "retryCount": record.retry_count,
        "lastRetryAt": None,
        "createdAt": firestore.SERVER_TIMESTAMP,
        "updatedAt": firestore.SERVER_TIMESTAMP,
        "resolvedAt": None,
    }


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
        created_at=data.get("createdAt"),
        last_retry_at=data.get("lastRetryAt"),
        resolved_at=data.get("resolvedAt"),
    )


def _origin(value: Any) -> Origin:
    return cast(Origin, value) if value in ORIGINS else "trigger"
