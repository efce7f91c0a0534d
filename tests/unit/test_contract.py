"""The SessionCompleted message: round trip and every rejection names its field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.contract import MAX_MESSAGE_BYTES, SessionCompleted, decode
from shared.errors import PermanentError


def encoded(**body: Any) -> bytes:
    return json.dumps(body).encode()


def test_round_trip() -> None:
    message = SessionCompleted("u1", "s1", "evt-1", "trigger")
    data, attributes = message.encode()
    assert attributes == {"schema_version": "1", "origin": "trigger"}
    assert decode(data, attributes) == message


def test_unicode_ids_round_trip() -> None:
    message = SessionCompleted("ユーザー", "セッション", "e", "replay")
    assert decode(*message.encode()) == message


def test_unknown_fields_are_ignored() -> None:
    data = encoded(user_id="u", session_id="s", event_id="e", extra={"x": 1})
    assert decode(data, {"schema_version": "1"}).event_id == "e"


def test_new_generates_distinct_event_ids() -> None:
    first = SessionCompleted.new("u", "s", origin="replay")
    second = SessionCompleted.new("u", "s", origin="replay")
    assert first.event_id != second.event_id
    assert first.event_id.startswith("replay-")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"session_id": "s", "event_id": "e"}, "user_id"),
        ({"user_id": "", "session_id": "s", "event_id": "e"}, "user_id"),
        ({"user_id": "u", "session_id": "  ", "event_id": "e"}, "session_id"),
        ({"user_id": "u", "session_id": "s"}, "event_id"),
        ({"user_id": 5, "session_id": "s", "event_id": "e"}, "user_id"),
        ({"user_id": "u", "session_id": ["s"], "event_id": "e"}, "session_id"),
        ({"user_id": "u", "session_id": "s", "event_id": None}, "event_id"),
        ({"user_id": "a/b", "session_id": "s", "event_id": "e"}, "user_id"),
        ({"user_id": "u", "session_id": "..", "event_id": "e"}, "session_id"),
        ({"user_id": "__x__", "session_id": "s", "event_id": "e"}, "user_id"),
        ({"user_id": "u", "session_id": "s", "event_id": "e", "origin": "cron"}, "origin"),
    ],
)
def test_invalid_bodies_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(PermanentError) as raised:
        decode(json.dumps(body).encode(), {"schema_version": "1"})
    assert raised.value.field == field


@pytest.mark.parametrize("data", [b"not json", b"\xff\xfe", b"[1, 2]", b'"text"'])
def test_undecodable_data(data: bytes) -> None:
    with pytest.raises(PermanentError) as raised:
        decode(data, {})
    assert raised.value.field == "data"


def test_oversized_payload() -> None:
    data = encoded(user_id="u", session_id="s", event_id="e", pad="x" * MAX_MESSAGE_BYTES)
    with pytest.raises(PermanentError, match="exceeds") as raised:
        decode(data, {})
    assert raised.value.field == "data"


def test_too_long_id() -> None:
    with pytest.raises(PermanentError) as raised:
        decode(encoded(user_id="u" * 1501, session_id="s", event_id="e"), {})
    assert raised.value.field == "user_id"


def test_unknown_schema_version() -> None:
    with pytest.raises(PermanentError) as raised:
        decode(encoded(user_id="u", session_id="s", event_id="e"), {"schema_version": "2"})
    assert raised.value.field == "schema_version"


def test_fields_of_older_messages_are_ignored() -> None:
    data = encoded(user_id="u", session_id="s", event_id="e", completed_at="2026-01-01T00:00:00Z")
    assert decode(data, None) == SessionCompleted("u", "s", "e")


def test_session_key_from_path() -> None:
    from shared.model import SessionKey

    assert SessionKey.from_path("users/u/sessions/s") == SessionKey("u", "s")
    assert SessionKey.from_path(SessionKey("u", "s").path) == SessionKey("u", "s")
    for other in ("users/u", "teams/u/sessions/s", "users/u/sessions/s/laps/1"):
        assert SessionKey.from_path(other) is None
