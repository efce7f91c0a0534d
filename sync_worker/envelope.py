"""Parse the JSON envelope of a Pub/Sub push request."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from sync_worker.handler import Delivery


class NotAnEnvelope(ValueError):
    """The body is not a Pub/Sub push envelope (answer 400, no side effects)."""


def parse_push_envelope(body: bytes) -> Delivery:
    """Return the delivery inside a push body; raise `NotAnEnvelope` otherwise."""
    try:
        envelope: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise NotAnEnvelope("body is not JSON") from None
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict):
        raise NotAnEnvelope("no 'message' object")
    message_id = message.get("messageId") or message.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise NotAnEnvelope("no 'message.messageId'")
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        raise NotAnEnvelope("'message.attributes' is not a map of strings")
    data = message.get("data", "")
    if not isinstance(data, str):
        raise NotAnEnvelope("'message.data' is not a string")
    try:
        payload = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise NotAnEnvelope("'message.data' is not base64") from None
    return Delivery(payload, attributes, message_id)
