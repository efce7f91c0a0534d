"""Timestamp shapes: datetime (aware, naive, nanosecond), RFC 3339 text, seconds/nanos maps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from google.api_core.datetime_helpers import DatetimeWithNanoseconds

from shared.errors import PermanentError
from shared.timestamps import to_rfc3339


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "2026-01-02T03:04:05.000006Z"),
        (datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05.000000Z"),
        (
            datetime(2026, 1, 2, 12, 0, tzinfo=timezone(timedelta(hours=9))),
            "2026-01-02T03:00:00.000000Z",
        ),
        (
            DatetimeWithNanoseconds(2026, 1, 2, 3, 4, 5, nanosecond=123456789, tzinfo=UTC),
            "2026-01-02T03:04:05.123456Z",
        ),
        ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000000Z"),
        ("2026-01-02t03:04:05.5z", "2026-01-02T03:04:05.500000Z"),
        ("2026-01-02 03:04:05.123456789-05:30", "2026-01-02T08:34:05.123456Z"),
        ({"seconds": 1767322800, "nanos": 1500}, "2026-01-02T03:00:00.000001Z"),
        ({"seconds": "1767322800"}, "2026-01-02T03:00:00.000000Z"),
        ({"seconds": -62135596800, "nanos": 0}, "0001-01-01T00:00:00.000000Z"),
        ({"seconds": 253402300799, "nanos": 999999999}, "9999-12-31T23:59:59.999999Z"),
    ],
)
def test_accepted_shapes(value: Any, expected: str) -> None:
    assert to_rfc3339(value, "startTime") == expected


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-02",
        "2026-01-02T03:04:05",
        "2026-13-02T03:04:05Z",
        "2026-01-02T03:04:60Z",
        "yesterday",
        "0001-01-01T00:00:00+01:00",
        {"seconds": 1, "nanos": 1_000_000_000},
        {"seconds": 253402300800},
        {"seconds": 1.5},
        {"seconds": True},
        {"nanos": 1},
        {"seconds": 1, "zone": "UTC"},
        1767322800,
        None,
        [2026, 1, 2],
    ],
)
def test_rejected_shapes_name_the_field(value: Any) -> None:
    with pytest.raises(PermanentError) as raised:
        to_rfc3339(value, "startTime")
    assert raised.value.field is not None
    assert raised.value.field.startswith("startTime")
