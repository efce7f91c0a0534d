"""Fixtures of the unit tests."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from shared.logging import configure_logging


class JsonLog(list[dict[str, Any]]):
    """The JSON log lines written so far (read afresh each time it is used)."""

    def __init__(self, stream: io.StringIO) -> None:
        super().__init__()
        self._stream = stream

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter([json.loads(line) for line in self._stream.getvalue().splitlines()])


@pytest.fixture
def caplog_json() -> Iterator[JsonLog]:
    """Capture the pipeline's structured log lines as parsed JSON objects."""
    stream = io.StringIO()
    configure_logging("DEBUG", stream)
    yield JsonLog(stream)
    configure_logging("INFO")
