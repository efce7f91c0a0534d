"""Structured JSON logs for Cloud Logging: `severity`, `message`, and bound context."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

_SEVERITY = {"warn": "WARNING", "exception": "ERROR", "critical": "CRITICAL"}


def _severity(_: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event["severity"] = _SEVERITY.get(method, method.upper())
    return event


class _CurrentStderr:
    """Whatever `sys.stderr` is when a line is written (it may be replaced after set-up)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send one JSON object per line to `stream` (stderr by default).

    Keys: `severity` and `message` (as Cloud Logging reads them), `time`, plus
    anything bound with `structlog.contextvars.bind_contextvars` or passed as
    keywords. Never pass raw user ids, salts or whole documents.
    """
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _severity,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(stream or _CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    """A structlog logger tagged with the component `name`, configured lazily at first use."""
    return structlog.get_logger(component=name)
