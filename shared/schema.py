"""The BigQuery row schema, loaded from `schema.json`, and validation of finished rows."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
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


def validate_row(row: dict[str, Any]) -> None:
    """Check a row against `schema.json`: names, types, REQUIRED, REPEATED, limits.

    Raises `PermanentError` naming the first offending column; no side effects.
    """
    checks = _checks()
    if len(row) != len(checks):
        unknown = sorted(set(row) - {name for name, *_ in checks})
        if unknown:
            raise PermanentError("is not a column of the schema", field=unknown[0])
    for name, kind, required, repeated, check in checks:
        if name not in row:
            raise PermanentError("is missing from the row", field=name)
        value = row[name]
        if repeated:
            if type(value) is not list:
                raise PermanentError("must be a list", field=name)
            if len(value) > MAX_REPEATED_ITEMS:
                raise PermanentError(f"more than {MAX_REPEATED_ITEMS} items", field=name)
            for item in value:
                if not check(item):
                    raise PermanentError(f"{item!r:.60} is not a valid {kind}", field=name)
        elif value is None:
            if required:
                raise PermanentError("is REQUIRED but null", field=name)
        elif not check(value):
            raise PermanentError(f"{value!r:.60} is not a valid {kind}", field=name)


def _is_string(value: Any) -> bool:
    return type(value) is str and len(value) <= MAX_STRING_CHARS


def _is_integer(value: Any) -> bool:
    return type(value) is int and INT64_MIN <= value <= INT64_MAX


def _is_float(value: Any) -> bool:
    return (type(value) is float or type(value) is int) and math.isfinite(value)


def _is_timestamp(value: Any) -> bool:
    return type(value) is str and _ROW_TIMESTAMP.match(value) is not None


_CHECKERS: dict[str, Callable[[Any], bool]] = {
    "STRING": _is_string,
    "INTEGER": _is_integer,
    "FLOAT": _is_float,
    "TIMESTAMP": _is_timestamp,
}


@cache
def _checks() -> tuple[tuple[str, str, bool, bool, Callable[[Any], bool]], ...]:
    return tuple((c.name, c.type, c.required, c.repeated, _CHECKERS[c.type]) for c in columns())
