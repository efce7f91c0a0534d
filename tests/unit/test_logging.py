"""Logs are one JSON object per line with Cloud Logging's severity and message keys."""

from __future__ import annotations

import io
import json

import structlog

from shared.logging import configure_logging, get_logger


def test_json_lines_with_severity_message_and_context() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream)
    structlog.contextvars.bind_contextvars(event_id="e1")
    try:
        log = get_logger("test")
        log.info("row_inserted", session_id="s1")
        log.warning("retry_enqueued")
        log.debug("not_shown")
    finally:
        structlog.contextvars.clear_contextvars()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["severity"], line["message"]) for line in lines] == [
        ("INFO", "row_inserted"),
        ("WARNING", "retry_enqueued"),
    ]
    assert lines[0]["event_id"] == "e1"
    assert lines[0]["session_id"] == "s1"
    assert "time" in lines[0]
