"""Firestore session document -> BigQuery row of `schema.json` (DESIGN §3).

Missing and null values become NULL, or 0 / [] where the ticket says so; a
present value is kept as it is (a score of 0 stays 0). Anything else a client
could write ends as a `PermanentError` naming the document field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from shared.errors import PermanentError
from shared.pseudonym import Pseudonymizer
from shared.schema import INT64_MAX, INT64_MIN, MAX_STRING_CHARS, columns, validate_row
from shared.timestamps import to_rfc3339, utc_rfc3339

# Where each column comes from in the document. Columns not listed here are
# computed: user_id_hash, session_id (from the path) and synced_at.
SOURCES: dict[str, str] = {
    "exercise_type": "exerciseType",
    "start_time": "startTime",
    "end_time": "endTime",
    "duration": "duration",
    "status": "status",
    "rep_count": "repCount",
    "set_count": "setCount",
    "overall_score": "formFeedback.overallScore",
    "good_frames": "formFeedback.goodFrames",
    "warning_frames": "formFeedback.warningFrames",
    "error_frames": "formFeedback.errorFrames",
    "warnings": "formFeedback.warnings",
    "camera_position": "cameraSettings.position",
    "camera_resolution": "cameraSettings.resolution",
    "camera_fps": "cameraSettings.fps",
    "total_frames": "sessionMetadata.totalFrames",
    "processed_frames": "sessionMetadata.processedFrames",
    "average_fps": "sessionMetadata.averageFps",
    "frame_drop_count": "sessionMetadata.frameDropCount",
    "average_confidence": "sessionMetadata.averageConfidence",
    "average_inference_time": "sessionMetadata.mediapipePerformance.averageInferenceTime",
    "max_inference_time": "sessionMetadata.mediapipePerformance.maxInferenceTime",
    "min_inference_time": "sessionMetadata.mediapipePerformance.minInferenceTime",
    "platform": "sessionMetadata.deviceInfo.platform",
    "os_version": "sessionMetadata.deviceInfo.osVersion",
    "device_model": "sessionMetadata.deviceInfo.deviceModel",
    "device_memory": "sessionMetadata.deviceInfo.deviceMemory",
    "created_at": "createdAt",
}
COMPUTED = ("user_id_hash", "session_id", "synced_at")
# The ticket's `|| 0` columns: a missing value is 0, not NULL.
ZERO_WHEN_MISSING = frozenset(
    {
        "rep_count",
        "set_count",
        "good_frames",
        "warning_frames",
        "error_frames",
        "total_frames",
        "processed_frames",
        "average_fps",
        "frame_drop_count",
        "average_confidence",
    }
)
MAX_FLOAT_INT = 2**53
_INTEGER_TEXT = re.compile(r"^[+-]?\d{1,19}$")
_DECIMAL_TEXT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?$")
_MISSING: Any = object()

Converter = Callable[[Any, str], Any]


def session_row(
    user_id: str,
    session_id: str,
    document: Mapping[str, Any],
    *,
    pseudonymizer: Pseudonymizer,
    synced_at: datetime,
) -> dict[str, Any]:
    """Transform one session document into a validated BigQuery row.

    `session_id` comes from the document path; a different `sessionId` field in
    the document is a `PermanentError`, as is any value of the wrong shape.
    Pure: no I/O, idempotent for a fixed `synced_at`.
    """
    if not isinstance(document, Mapping):
        raise PermanentError("must be a map", field="document")
    declared = document.get("sessionId")
    if declared is not None and declared != session_id:
        raise PermanentError(
            f"differs from the path's session id {session_id!r}", field="sessionId"
        )
    containers: dict[tuple[str, ...], Any] = {(): document}
    row: dict[str, Any] = {}
    for name, path, parent, leaf, convert, default in _PLAN:
        if leaf is None:
            row[name] = None  # computed below, kept here for column order
            continue
        container = containers.get(parent, _MISSING)
        if container is _MISSING:
            container = _resolve(containers, parent)
        value = None if container is None else container.get(leaf)
        row[name] = default if value is None else convert(value, path)
    for name in _REPEATED:
        if row[name] is None:
            row[name] = []
    row["user_id_hash"] = pseudonymizer.user_id_hash(user_id)
    row["session_id"] = session_id
    row["synced_at"] = utc_rfc3339(synced_at)
    for name in _REQUIRED_FROM_DOCUMENT:
        if row[name] is None:
            raise PermanentError("is required", field=SOURCES[name])
    validate_row(row)
    return row


def _resolve(containers: dict[tuple[str, ...], Any], parent: tuple[str, ...]) -> Any:
    """The map at `parent` (None when absent), memoized per document in `containers`."""
    found = containers.get(parent, _MISSING)
    if found is not _MISSING:
        return found
    above = _resolve(containers, parent[:-1])
    value = None if above is None else above.get(parent[-1])
    if value is not None and type(value) is not dict and not isinstance(value, Mapping):
        raise PermanentError(f"must be a map, not {type(value).__name__}", field=".".join(parent))
    containers[parent] = value
    return value


def _to_string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise PermanentError(f"must be a string, not {type(value).__name__}", field=field)
    if len(value) > MAX_STRING_CHARS:
        raise PermanentError(f"longer than {MAX_STRING_CHARS} characters", field=field)
    return value


def _to_integer(value: Any, field: str) -> int:
    number = _whole_number(value)
    if number is None:
        raise PermanentError(f"{value!r:.40} is not a whole number", field=field)
    if not INT64_MIN <= number <= INT64_MAX:
        raise PermanentError("is outside the INT64 range", field=field)
    return number


def _whole_number(value: Any) -> int | None:
    """`value` as an int when that loses nothing (12, 12.0, "12"); otherwise None."""
    if type(value) is int:
        return value
    if type(value) is float:
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and _INTEGER_TEXT.match(value):
        return int(value)
    return None


def _to_float(value: Any, field: str) -> float:
    if type(value) is float:
        number = value
    elif type(value) is int:
        if abs(value) > MAX_FLOAT_INT:
            raise PermanentError("cannot be stored as FLOAT without loss", field=field)
        number = float(value)
    elif isinstance(value, str) and _DECIMAL_TEXT.match(value):
        number = float(value)
    else:
        raise PermanentError(f"{value!r:.40} is not a number", field=field)
    if not math.isfinite(number):
        raise PermanentError("must be a finite number", field=field)
    return number


def _to_warnings(value: Any, field: str) -> list[str]:
    if not isinstance(value, list | tuple):
        raise PermanentError(f"must be a list, not {type(value).__name__}", field=field)
    return [
        item if isinstance(item, str) else _compact_json(item, f"{field}[{index}]")
        for index, item in enumerate(value)
    ]


def _compact_json(item: Any, field: str) -> str:
    def fallback(value: Any) -> str:
        if isinstance(value, datetime):
            return utc_rfc3339(value)
        raise TypeError(f"{type(value).__name__} cannot be stored as JSON")

    try:
        return json.dumps(
            item,
            separators=(",", ":"),
            sort_keys=True,
            ensure_ascii=False,
            allow_nan=False,
            default=fallback,
        )
    except (TypeError, ValueError, RecursionError) as error:
        raise PermanentError(str(error), field=field) from None


_CONVERTERS: dict[str, Converter] = {
    "STRING": _to_string,
    "INTEGER": _to_integer,
    "FLOAT": _to_float,
    "TIMESTAMP": to_rfc3339,
}


Step = tuple[str, str, tuple[str, ...], str | None, Converter, Any]


def _build_plan() -> tuple[Step, ...]:
    """Pair each schema column with its source and converter; fail on any drift."""
    names = [column.name for column in columns()]
    if sorted([*SOURCES, *COMPUTED]) != sorted(names) or len(set(names)) != len(names):
        raise RuntimeError("shared/rows.py SOURCES do not match shared/schema.json")
    plan: list[Step] = []
    for column in columns():
        path = SOURCES.get(column.name)
        convert: Converter
        if column.repeated:
            convert, default = _to_warnings, None
        else:
            convert = _CONVERTERS[column.type]
            zero = 0.0 if column.type == "FLOAT" else 0
            default = zero if column.name in ZERO_WHEN_MISSING else None
        keys = tuple(path.split(".")) if path else ()
        leaf = keys[-1] if keys else None
        plan.append((column.name, path or column.name, keys[:-1], leaf, convert, default))
    return tuple(plan)


_PLAN = _build_plan()
_REPEATED = tuple(column.name for column in columns() if column.repeated)
_REQUIRED_FROM_DOCUMENT = tuple(
    column.name for column in columns() if column.required and column.name in SOURCES
)
