"""Decode Firestore `document.v1.written` CloudEvent payloads (raw or base64 protobuf)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from google.events.cloud.firestore import Document, DocumentEventData

from shared.errors import PermanentError
from shared.model import SessionKey

_BASE64_TEXT = re.compile(rb"^[A-Za-z0-9+/=\s]*$")
_SESSION_PATH = re.compile(r"/documents/users/([^/]+)/sessions/([^/]+)$")


@dataclass(frozen=True)
class SessionWrite:
    """The part of a session write the trigger needs."""

    key: SessionKey | None  # None for a deleted document
    old_status: str | None
    new_status: str | None


def decode_document_event(data: bytes | str) -> SessionWrite:
    """Parse `DocumentEventData` sent as protobuf bytes or as base64 text (the emulator).

    Raises `PermanentError` when the payload is neither.
    """
    payload = data.encode("ascii", "replace") if isinstance(data, str) else data
    if _BASE64_TEXT.match(payload):
        try:
            payload = base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError) as error:
            raise PermanentError(f"bad base64 payload: {error}", field="data") from None
    try:
        event = DocumentEventData.deserialize(payload)
    except Exception as error:  # protobuf raises DecodeError, a private class
        raise PermanentError(f"not a DocumentEventData payload: {error}", field="data") from None
    new = event.value
    return SessionWrite(
        key=_session_key(new.name) if new.name else None,
        old_status=_status(event.old_value),
        new_status=_status(new),
    )


def _status(document: Document) -> str | None:
    value = document.fields.get("status") if document.name else None
    return value.string_value if value is not None and "string_value" in value else None


def _session_key(name: str) -> SessionKey:
    match = _SESSION_PATH.search(name)
    if match is None:
        raise PermanentError(f"not a session document: {name}", field="value.name")
    return SessionKey(match.group(1), match.group(2))
