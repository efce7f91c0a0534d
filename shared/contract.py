"""The `SessionCompleted` message: a reference to a completed session, not a copy of it."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Literal, cast

from shared.errors import PermanentError

SCHEMA_VERSION = "1"
MAX_MESSAGE_BYTES = 8 * 1024
MAX_ID_BYTES = 1500  # Firestore's limit for a document id
ORIGINS = ("trigger", "replay", "backfill", "redrive")
Origin = Literal["trigger", "replay", "backfill", "redrive"]
_RESERVED_ID = re.compile(r"^__.*__$")


@dataclass(frozen=True)
class SessionCompleted:
    """Session `users/{user_id}/sessions/{session_id}` became completed.

    `event_id` is the Firestore CloudEvent id (or a generated id for replays and
    backfills); it is the BigQuery insert id and the idempotency key.
    """

    user_id: str
    session_id: str
    event_id: str
    origin: Origin = "trigger"

    def encode(self) -> tuple[bytes, dict[str, str]]:
        """Return Pub/Sub `data` and `attributes` for this message."""
        data = json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return data, {"schema_version": SCHEMA_VERSION, "origin": self.origin}

    @classmethod
    def new(cls, user_id: str, session_id: str, *, origin: Origin) -> SessionCompleted:
        """A message with a freshly generated event id (replays and backfills)."""
        event_id = f"{origin}-{uuid.uuid4().hex}"
        message = cls(user_id, session_id, event_id, origin)
        validate_ids(message.user_id, message.session_id, message.event_id)
        return message


def decode(data: bytes, attributes: Mapping[str, str] | None) -> SessionCompleted:
    """Parse Pub/Sub `data` + `attributes`; raise `PermanentError` naming the bad field.

    Unknown fields are ignored. Idempotent and side-effect free.
    """
    version = (attributes or {}).get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise PermanentError(f"unsupported version {version!r}", field="schema_version")
    if len(data) > MAX_MESSAGE_BYTES:
        raise PermanentError(
            f"{len(data)} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit", field="data"
        )
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise PermanentError(f"not UTF-8 JSON ({error})", field="data") from None
    if not isinstance(body, dict):
        raise PermanentError("must be a JSON object", field="data")
    user_id = _required_text(body, "user_id")
    session_id = _required_text(body, "session_id")
    event_id = _required_text(body, "event_id")
    validate_ids(user_id, session_id, event_id)
    origin = body.get("origin", "trigger")
    if origin not in ORIGINS:
        raise PermanentError(f"must be one of {', '.join(ORIGINS)}", field="origin")
    return SessionCompleted(user_id, session_id, event_id, cast(Origin, origin))


def validate_ids(user_id: str, session_id: str, event_id: str) -> None:
    """Reject ids that cannot name a Firestore document or an idempotency key."""
    for field, value in (("user_id", user_id), ("session_id", session_id)):
        if "/" in value or value in (".", "..") or _RESERVED_ID.match(value):
            raise PermanentError("is not a valid Firestore document id", field=field)
        if len(value.encode("utf-8")) > MAX_ID_BYTES:
            raise PermanentError(f"longer than {MAX_ID_BYTES} bytes", field=field)
    if len(event_id.encode("utf-8")) > MAX_ID_BYTES:
        raise PermanentError(f"longer than {MAX_ID_BYTES} bytes", field="event_id")


def _required_text(body: Mapping[str, object], field: str) -> str:
    value = body.get(field)
    if value is None:
        raise PermanentError("is missing", field=field)
    if not isinstance(value, str):
        raise PermanentError(f"must be a string, not {type(value).__name__}", field=field)
    if not value.strip():
        raise PermanentError("must not be empty", field=field)
    return value
