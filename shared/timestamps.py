"""Timestamps in every shape a session document can hold, rendered as UTC RFC 3339."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from shared.errors import PermanentError

# BigQuery's TIMESTAMP range, 0001-01-01 to 9999-12-31, in Unix seconds.
MIN_SECONDS, MAX_SECONDS = -62135596800, 253402300799
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)
_INTEGER_TEXT = re.compile(r"^-?\d{1,12}$")


def utc_rfc3339(moment: datetime) -> str:
    """Render an aware or naive (taken as UTC) datetime as `YYYY-MM-DDTHH:MM:SS.ffffffZ`."""
    if moment.tzinfo is not None and moment.utcoffset():
        moment = moment.astimezone(UTC)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}Z"
    )


def to_rfc3339(value: Any, field: str) -> str:
    """Convert a datetime, RFC 3339 string or `{"seconds","nanos"}` map to UTC RFC 3339.

    Nanoseconds are truncated to BigQuery's microseconds. Raises `PermanentError`
    naming `field` for any other shape or an out-of-range moment.
    """
    try:
        if isinstance(value, datetime):
            return utc_rfc3339(value)
        if isinstance(value, str):
            return utc_rfc3339(_parse_text(value, field))
        if isinstance(value, Mapping):
            return utc_rfc3339(_from_seconds_map(value, field))
    except (OverflowError, ValueError) as error:
        raise PermanentError(f"is not a valid timestamp ({error})", field=field) from None
    raise PermanentError(
        f"must be a timestamp, RFC 3339 string or seconds/nanos map, not {type(value).__name__}",
        field=field,
    )


def _parse_text(text: str, field: str) -> datetime:
    match = _RFC3339.match(text)
    if match is None:
        raise PermanentError(f"{text!r:.40} is not an RFC 3339 timestamp", field=field)
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    if zulu:
        zone = UTC
    else:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        zone = timezone(-offset if sign == "-" else offset)
    moment = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), micros, zone
    )
    return moment.astimezone(UTC)


def _from_seconds_map(value: Mapping[Any, Any], field: str) -> datetime:
    if set(value) - {"seconds", "nanos"} or "seconds" not in value:
        raise PermanentError("a timestamp map must hold only 'seconds' and 'nanos'", field=field)
    seconds = _whole_number(value["seconds"], f"{field}.seconds")
    nanos = _whole_number(value.get("nanos", 0), f"{field}.nanos")
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise PermanentError("is outside BigQuery's timestamp range", field=f"{field}.seconds")
    if not 0 <= nanos <= 999_999_999:
        raise PermanentError("must be between 0 and 999999999", field=f"{field}.nanos")
    return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def _whole_number(value: Any, field: str) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str) and _INTEGER_TEXT.match(value):
        return int(value)
    raise PermanentError("must be a whole number", field=field)
