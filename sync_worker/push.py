"""The Pub/Sub push HTTP endpoint: authenticate, parse the envelope, hand to the batcher."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.auth import Verifier
from shared.http import Response, json_reply, reject_unauthenticated
from shared.logging import get_logger
from sync_worker.envelope import NotAnEnvelope, parse_push_envelope
from sync_worker.handler import Delivery, Handled

log = get_logger("sync_worker")


class PushEndpoint:
    """`sync_worker_push`: 2xx acknowledges the message, 5xx makes Pub/Sub redeliver it."""

    def __init__(self, verifier: Verifier, submit: Callable[[Delivery], Handled]) -> None:
        self._verifier = verifier
        self._submit = submit

    def __call__(self, request: Any) -> Response:
        rejected = reject_unauthenticated(self._verifier, request, "push_rejected")
        if rejected is not None:
            return rejected
        try:
            delivery = parse_push_envelope(request.get_data())
        except NotAnEnvelope as error:
            log.warning("push_rejected", status=400, reason=str(error))
            return json_reply(400, error=str(error))
        handled = self._submit(delivery)
        return json_reply(200 if handled.ack else 503, outcome=handled.outcome)
