"""Content fingerprints: one digest per row content, equal for equal values of any origin."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.errors import PermanentError
from shared.model import SessionSnapshot
from shared.pseudonym import Pseudonymizer
from shared.rows import session_row
from shared.schema import Column, columns
from shared.timestamps import to_rfc3339

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def row_fingerprint(row: Mapping[str, Any]) -> str:
    """A digest of a row's content, `synced_at` aside, equal for equal values of any origin.

    Accepts both a row from `session_row` (timestamps as RFC 3339 text) and a
    row read back from BigQuery (datetimes): every value is normalized by its
    column type first. Raises `PermanentError` for a value of the wrong shape.
    """
    values = [_normal(column, row.get(column.name)) for column in _CONTENT_COLUMNS]
    text = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def document_fingerprint(snapshot: SessionSnapshot, pseudonymizer: Pseudonymizer) -> str | None:
    """The fingerprint of the row this document would become; None when it cannot become one."""
    key = snapshot.key
    try:
        row = session_row(
            key.user_id,
            key.session_id,
            snapshot.data,
            pseudonymizer=pseudonymizer,
            synced_at=_EPOCH,
        )
        return row_fingerprint(row)
    except PermanentError:
        return None


def _normal(column: Column, value: Any) -> Any:
    if column.repeated:
        return [str(item) for item in value or ()]
    if value is None:
        return None
    if column.type == "TIMESTAMP":
        return to_rfc3339(value, column.name)
    if column.type == "FLOAT":
        return float(value)
    if column.type == "INTEGER":
        return int(value)
    return str(value)


_CONTENT_COLUMNS = tuple(column for column in columns() if column.name != "synced_at")
