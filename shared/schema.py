"""The BigQuery row schema, loaded from `schema.json`, and validation of finished rows."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from shared.errors import PermanentError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_STRING_CHARS = 8 * 1024
MAX_REPEATED_ITEMS = 1000
_ROW_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


@dataclass(frozen=True)
class Column:
    """One column of `schema.json`."""

    name: str
    type: str
    mode: str
    description: str

    @property
    def required(self) -> bool:
        return self.mode == "REQUIRED"

    @property
    def repeated(self) -> bool:
        return self.mode == "REPEATED"


def schema_text() -> str:
    """The raw text of `schema.json` (the only column list)."""
    return resources.files("shared").joinpath("schema.json").read_text(encoding="utf-8")


@cache
def columns() -> tuple[Column, ...]:
    """The columns of the `sessions` table, in table order."""
    return tuple(Column(**spec) for spec in json.loads(schema_text()))


def column_names() -> tuple[str, ...]:
    return tuple(column.name for column in columns())


def validate_row(row: dict[str, Any]) -> None:
    """Check a row against `schema.json`: names, types, REQUIRED, REPEATED, limits.

    Raises `PermanentError` naming the first offending column; no side effects.
    """
    expected = columns()
    if len(row) != len(expected):
        unknown = sorted(set(row) - {column.name for column in expected})
        if unknown:
            raise PermanentError("is not a column of the schema", field=unknown[0])
    for column in expected:
        if column.name not in row:
            raise PermanentError("is missing from the row", field=column.name)
        value = row[column.name]
        if column.repeated:
            if not isinstance(value, list):
                raise PermanentError("must be a list", field=column.name)
            if len(value) > MAX_REPEATED_ITEMS:
                raise PermanentError(f"more than {MAX_REPEATED_ITEMS} items", field=column.name)
            for item in value:
                _check_scalar(column, item)
        elif value is None:
            if column.required:
                raise PermanentError("is REQUIRED but null", field=column.name)
        else:
            _check_scalar(column, value)


def _check_scalar(column: Column, value: Any) -> None:
    kind = column.type
    if kind == "STRING":
        ok = isinstance(value, str) and len(value) <= MAX_STRING_CHARS
    elif kind == "INTEGER":
        ok = type(value) is int and INT64_MIN <= value <= INT64_MAX
    elif kind == "FLOAT":
        ok = type(value) in (int, float) and math.isfinite(value)
    elif kind == "TIMESTAMP":
        ok = isinstance(value, str) and _ROW_TIMESTAMP.match(value) is not None
    else:
        raise PermanentError(f"unsupported column type {kind}", field=column.name)
    if not ok:
        raise PermanentError(f"{value!r:.60} is not a valid {kind}", field=column.name)
