"""schema.json is well formed and validate_row enforces it."""

from __future__ import annotations

from typing import Any

import pytest

from shared.errors import PermanentError
from shared.pseudonym import Pseudonymizer
from shared.rows import session_row
from shared.schema import columns, validate_row
from tests.unit.documents import SALT, SYNCED_AT, full_document


def valid_row() -> dict[str, Any]:
    return session_row(
        "u", "s1", full_document(), pseudonymizer=Pseudonymizer(SALT), synced_at=SYNCED_AT
    )


def test_schema_has_31_described_columns() -> None:
    schema = columns()
    assert len(schema) == 31
    assert all(column.description for column in schema)
    assert {c.name for c in schema if c.required} == {
        "user_id_hash",
        "session_id",
        "start_time",
        "created_at",
        "synced_at",
    }
    assert [c.name for c in schema if c.repeated] == ["warnings"]
    assert {c.type for c in schema} == {"STRING", "INTEGER", "FLOAT", "TIMESTAMP"}


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("user_id_hash", None),
        ("rep_count", True),
        ("rep_count", 1.0),
        ("rep_count", 2**63),
        ("duration", float("nan")),
        ("duration", "1.0"),
        ("start_time", "2026-01-01T00:00:00Z"),
        ("warnings", "a"),
        ("warnings", [1]),
        ("warnings", ["a"] * 1001),
        ("platform", "x" * 9000),
    ],
)
def test_violations_name_the_column(column: str, value: Any) -> None:
    row = valid_row()
    row[column] = value
    with pytest.raises(PermanentError) as raised:
        validate_row(row)
    assert raised.value.field == column


def test_unknown_and_missing_columns() -> None:
    row = valid_row()
    row["extra"] = 1
    with pytest.raises(PermanentError) as raised:
        validate_row(row)
    assert raised.value.field == "extra"
    row = valid_row()
    del row["platform"]
    with pytest.raises(PermanentError) as raised:
        validate_row(row)
    assert raised.value.field == "platform"
