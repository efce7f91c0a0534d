"""Billed sizes: a BigQuery row by its data-size rules, a Pub/Sub message, their minimums."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.schema import columns

STREAMING_ROW_MINIMUM = 1024  # BigQuery bills each streamed row as at least 1 KB
PUBSUB_REQUEST_MINIMUM = 1000  # Pub/Sub bills each publish, push or pull request as >= 1000 B
QUERY_TABLE_MINIMUM = 10 * 1024 * 1024  # on-demand queries: at least 10 MB per table read

_FIXED_WIDTH = {"INTEGER": 8, "INT64": 8, "FLOAT": 8, "FLOAT64": 8, "TIMESTAMP": 8, "BOOLEAN": 1}


def value_bytes(column_type: str, value: Any) -> int:
    """BigQuery's logical size of one value: 2 + UTF-8 length for a STRING, 8 for numbers
    and timestamps, 1 for a BOOL, 0 for NULL."""
    if value is None:
        return 0
    if column_type == "STRING":
        return 2 + len(str(value).encode("utf-8"))
    return _FIXED_WIDTH.get(column_type, 8)


def row_bytes(row: Mapping[str, Any]) -> int:
    """The logical size of a `sessions` row (`shared/schema.json`), repeated values summed."""
    size = 0
    for column in columns():
        value = row.get(column.name)
        if column.repeated:
            size += sum(value_bytes(column.type, item) for item in value or ())
        else:
            size += value_bytes(column.type, value)
    return size


def streaming_billable_bytes(size: int) -> int:
    """What one streamed row is billed as."""
    return max(STREAMING_ROW_MINIMUM, size)


def message_bytes(data: bytes, attributes: Mapping[str, str]) -> int:
    """A Pub/Sub message's size: its data plus its attributes' keys and values."""
    return len(data) + sum(len(k.encode()) + len(v.encode()) for k, v in attributes.items())


def pubsub_billable_bytes(request_bytes: int) -> int:
    """What one Pub/Sub publish, push or pull request is billed as."""
    return max(PUBSUB_REQUEST_MINIMUM, request_bytes)


def query_billable_bytes(scanned: int) -> int:
    """What an on-demand query reading one table is billed as."""
    return max(QUERY_TABLE_MINIMUM, scanned)
