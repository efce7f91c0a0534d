"""The Pub/Sub push HTTP endpoint: authenticate, parse the envelope, hand to the batcher."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shared.auth import AuthFailure, Verifier
from shared.logging import get_logger
from sync_worker.envelope import NotAnEnvelope, parse_push_envelope
from sync_worker.handler import Delivery, Handled

log = get_logger("sync_worker")
Response = tuple[str, int, dict[str, str]]
_JSON = {"Content-Type": "application/json"}


class PushEndpoint:
    """`sync_worker_push`: 2xx acknowledges the message, 5xx makes Pub/Sub redeliver it."""

    def __init__(self, verifier: Verifier, submit: Callable[[Delivery], Handled]) -> None:
        self._verifier = verifier
        self._submit = submit

    def __call__(self, request: Any) -> Response:
        try:
            self._verifier.verify(request.headers.get("Authorization"))
        except AuthFailure as failure:
            log.warning("push_rejected", status=failure.status, reason=failure.reason)
            return _reply(failure.status, error=failure.reason)
        try:
            delivery = parse_push_envelope(request.get_data())
        except NotAnEnvelope as error:
            log.warning("push_rejected", status=400, reason=str(error))
            return _reply(400, error=str(error))
        handled = self._submit(delivery)
        return _reply(200 if handled.ack else 503, outcome=handled.outcome)


def _reply(status: int, **body: str) -> Response:
    return json.dumps(body), status, _JSON
