"""Trigger: decode raw and base64 DocumentEventData; publish only on the transition."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from google.events.cloud.firestore import Document, DocumentEventData, Value

from shared.errors import TransientError
from tests.unit.fakes import FakePublisher
from trigger.events import decode_document_event
from trigger.handler import handle_session_written

NAME = "projects/p/databases/(default)/documents/users/u1/sessions/s1"


def document(status: str | None, *, name: str = NAME) -> Document:
    fields = {"status": Value(string_value=status)} if status is not None else {}
    fields["repCount"] = Value(integer_value=3)
    return Document(name=name, fields=fields, update_time=datetime(2026, 1, 2, tzinfo=UTC))


def payload(old: str | None, new: str | None, *, deleted: bool = False) -> bytes:
    event = DocumentEventData(
        old_value=document(old) if old != "absent" else None,
        value=None if deleted else document(new),
    )
    return DocumentEventData.serialize(event)


@pytest.mark.parametrize("encoding", ["raw", "base64-bytes", "base64-text"])
def test_decodes_raw_and_base64(encoding: str) -> None:
    raw = payload("active", "completed")
    data: bytes | str = {
        "raw": raw,
        "base64-bytes": base64.b64encode(raw),
        "base64-text": base64.b64encode(raw).decode(),
    }[encoding]
    write = decode_document_event(data)
    assert write.key is not None and str(write.key) == "u1/s1"
    assert (write.old_status, write.new_status) == ("active", "completed")


@pytest.mark.parametrize(
    ("old", "new", "published"),
    [
        ("active", "completed", True),
        ("absent", "completed", True),  # created already completed
        (None, "completed", True),  # old document without a status
        ("completed", "completed", False),  # e.g. the workers' own status writes
        ("active", "active", False),
        ("completed", "active", False),
        ("absent", "active", False),
    ],
)
def test_publishes_only_on_the_transition(old: str | None, new: str, published: bool) -> None:
    publisher = FakePublisher()
    message = handle_session_written("ce-1", payload(old, new), publisher)
    assert (message is not None) == published
    assert len(publisher.messages) == int(published)
    if published:
        assert publisher.messages[0].event_id == "ce-1"
        assert publisher.messages[0].origin == "trigger"
        assert (publisher.messages[0].user_id, publisher.messages[0].session_id) == ("u1", "s1")


def test_ignores_deletes() -> None:
    publisher = FakePublisher()
    assert (
        handle_session_written("ce-1", payload("completed", None, deleted=True), publisher) is None
    )
    assert publisher.messages == []


def test_undecodable_payload_is_dropped_not_retried() -> None:
    publisher = FakePublisher()
    assert handle_session_written("ce-1", b"\x00\xff garbage", publisher) is None
    assert publisher.messages == []


def test_non_session_document_is_dropped() -> None:
    event = DocumentEventData(
        value=document("completed", name="projects/p/databases/(default)/documents/users/u1")
    )
    assert (
        handle_session_written("ce-1", DocumentEventData.serialize(event), FakePublisher()) is None
    )


def test_publish_failure_raises_so_the_platform_retries() -> None:
    publisher = FakePublisher()
    publisher.outage.down = True
    with pytest.raises(TransientError):
        handle_session_written("ce-1", payload("active", "completed"), publisher)
