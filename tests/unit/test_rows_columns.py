"""Every one of the 31 columns: present, missing, null, zero/empty and wrong type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from shared.errors import PermanentError
from shared.pseudonym import Pseudonymizer
from shared.rows import SOURCES, session_row
from shared.schema import columns
from tests.unit.documents import SALT, SYNCED_AT, delete_path, full_document, set_path

REQUIRED = object()  # marker: a missing value is a PermanentError


@dataclass(frozen=True)
class Case:
    present: Any
    expected: Any
    missing: Any  # expected value when missing or null, or REQUIRED
    zero: Any
    zero_expected: Any
    wrong: Any


TS = "2026-03-04T05:00:00.000000Z"
CASES: dict[str, Case] = {
    "exercise_type": Case("squat", "squat", None, "", "", 5),
    "start_time": Case(
        "2026-03-04T14:00:00+09:00",
        TS,
        REQUIRED,
        {"seconds": 0},
        "1970-01-01T00:00:00.000000Z",
        1.5,
    ),
    "end_time": Case(
        {"seconds": 1772600400, "nanos": 999},
        TS,
        None,
        "1970-01-01T00:00:00Z",
        "1970-01-01T00:00:00.000000Z",
        True,
    ),
    "duration": Case(1800.5, 1800.5, None, 0, 0.0, "long"),
    "status": Case("completed", "completed", None, "", "", ["completed"]),
    "rep_count": Case(30, 30, 0, 0, 0, 2.5),
    "set_count": Case("3", 3, 0, 0, 0, True),
    "overall_score": Case(87.5, 87.5, None, 0, 0.0, {"score": 1}),
    "good_frames": Case(900.0, 900, 0, 0, 0, "900.5"),
    "warning_frames": Case(80, 80, 0, 0, 0, False),
    "error_frames": Case(20, 20, 0, 0, 0, [20]),
    "warnings": Case(
        ["a", {"code": 2, "at": 1}, 3, None],
        ["a", '{"at":1,"code":2}', "3", "null"],
        [],
        [],
        [],
        "knees_in",
    ),
    "camera_position": Case("front", "front", None, "", "", 1),
    "camera_resolution": Case("1920x1080", "1920x1080", None, "", "", {"w": 1920}),
    "camera_fps": Case("29.97", 29.97, None, 0, 0.0, "fast"),
    "total_frames": Case(1000, 1000, 0, 0, 0, float("nan")),
    "processed_frames": Case(990, 990, 0, 0, 0, "1e3"),
    "average_fps": Case(29.5, 29.5, 0.0, 0, 0.0, float("inf")),
    "frame_drop_count": Case(10, 10, 0, 0, 0, 2**63),
    "average_confidence": Case(0.93, 0.93, 0.0, 0.0, 0.0, True),
    "average_inference_time": Case(12, 12.0, None, 0, 0.0, 2**60),
    "max_inference_time": Case(40.0, 40.0, None, 0.0, 0.0, "NaN"),
    "min_inference_time": Case(8.25, 8.25, None, 0.0, 0.0, [8.25]),
    "platform": Case("android", "android", None, "", "", b"ios"),
    "os_version": Case("14", "14", None, "", "", 14),
    "device_model": Case("Pixel 8", "Pixel 8", None, "", "", "x" * 9000),
    "device_memory": Case(0.5, 0.5, None, 0, 0.0, "8GB"),
    "created_at": Case(
        "2026-03-04T05:00:00Z",
        TS,
        REQUIRED,
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00.000000Z",
        {"seconds": 1, "extra": 2},
    ),
}


def transform(document: dict[str, Any], user_id: str = "u1") -> dict[str, Any]:
    return session_row(
        user_id, "s1", document, pseudonymizer=Pseudonymizer(SALT), synced_at=SYNCED_AT
    )


def test_cases_cover_every_document_column() -> None:
    assert sorted(CASES) == sorted(SOURCES)
    assert len(columns()) == 31


@pytest.mark.parametrize("column", sorted(CASES))
def test_present_value(column: str) -> None:
    document = full_document()
    set_path(document, SOURCES[column], CASES[column].present)
    assert transform(document)[column] == CASES[column].expected


@pytest.mark.parametrize("column", sorted(CASES))
@pytest.mark.parametrize("absent", ["missing", "null"])
def test_missing_or_null_value(column: str, absent: str) -> None:
    document = full_document()
    if absent == "missing":
        delete_path(document, SOURCES[column])
    else:
        set_path(document, SOURCES[column], None)
    case = CASES[column]
    if case.missing is REQUIRED:
        with pytest.raises(PermanentError) as raised:
            transform(document)
        assert raised.value.field == SOURCES[column]
    else:
        assert transform(document)[column] == case.missing


@pytest.mark.parametrize("column", sorted(CASES))
def test_zero_or_empty_value_is_kept(column: str) -> None:
    document = full_document()
    set_path(document, SOURCES[column], CASES[column].zero)
    result = transform(document)[column]
    assert result == CASES[column].zero_expected
    assert type(result) is type(CASES[column].zero_expected)


@pytest.mark.parametrize("column", sorted(CASES))
def test_wrong_type_names_the_field(column: str) -> None:
    document = full_document()
    set_path(document, SOURCES[column], CASES[column].wrong)
    with pytest.raises(PermanentError) as raised:
        transform(document)
    assert raised.value.field is not None
    assert raised.value.field.startswith(SOURCES[column])


def test_user_id_hash_is_the_salted_sha256() -> None:
    row = transform(full_document(), user_id="user-42")
    assert row["user_id_hash"] == Pseudonymizer(SALT).user_id_hash("user-42")
    assert "user-42" not in str(row)


def test_session_id_comes_from_the_path() -> None:
    document = full_document()
    del document["sessionId"]
    assert transform(document)["session_id"] == "s1"


def test_session_id_field_that_differs_from_the_path_is_rejected() -> None:
    document = full_document()
    document["sessionId"] = "other"
    with pytest.raises(PermanentError) as raised:
        transform(document)
    assert raised.value.field == "sessionId"


def test_synced_at_is_the_given_clock() -> None:
    assert transform(full_document())["synced_at"] == "2026-03-04T05:06:07.890123Z"


def test_row_has_the_schema_columns_in_order() -> None:
    assert tuple(transform(full_document())) == tuple(column.name for column in columns())


@pytest.mark.parametrize("parent", ["formFeedback", "cameraSettings", "sessionMetadata"])
def test_a_parent_that_is_not_a_map_names_the_parent(parent: str) -> None:
    document = full_document()
    document[parent] = "broken"
    with pytest.raises(PermanentError) as raised:
        transform(document)
    assert raised.value.field == parent


def test_missing_parent_maps_give_defaults() -> None:
    document = full_document()
    for parent in ("formFeedback", "cameraSettings", "sessionMetadata"):
        del document[parent]
    row = transform(document)
    assert row["overall_score"] is None
    assert row["good_frames"] == 0
    assert row["warnings"] == []
    assert row["device_memory"] is None


def test_a_document_that_is_not_a_map_is_rejected() -> None:
    with pytest.raises(PermanentError) as raised:
        session_row("u", "s", [], pseudonymizer=Pseudonymizer(SALT), synced_at=SYNCED_AT)  # type: ignore[arg-type]
    assert raised.value.field == "document"


def test_default_lists_are_not_shared_between_rows() -> None:
    document = full_document()
    del document["formFeedback"]["warnings"]
    first = transform(document)
    first["warnings"].append("mutated")
    assert transform(document)["warnings"] == []
