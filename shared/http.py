"""What the two worker endpoints share: JSON replies and the token check before anything else."""

from __future__ import annotations

import json
from typing import Any

from shared.auth import AuthFailure, Verifier
from shared.logging import get_logger

Response = tuple[str, int, dict[str, str]]
_JSON = {"Content-Type": "application/json"}
log = get_logger("http")


def json_reply(status: int, **body: str) -> Response:
    """A functions-framework response: JSON body, status, headers."""
    return json.dumps(body), status, _JSON


def reject_unauthenticated(verifier: Verifier, request: Any, event: str) -> Response | None:
    """The 401/403 reply when the request's bearer token is not valid, else None.

    Runs before the body is read, so a rejected request has no side effects.
    """
    try:
        verifier.verify(request.headers.get("Authorization"))
    except AuthFailure as failure:
        log.warning(event, status=failure.status, reason=failure.reason)
        return json_reply(failure.status, error=failure.reason)
    return None
