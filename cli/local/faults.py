"""Switch the local fault-injection proxy's faults (for tests and `make demo FAIL_RATE=...`)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from cli.local.errors import StackError
from cli.local.fault_proxy import CONTROL_PATH
from cli.local.net import HOST
from shared.settings import Settings

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class FaultControl:
    """Client of the proxy's `/__faults__` endpoint."""

    def __init__(self, settings: Settings) -> None:
        port = settings.local_ports["LOCAL_FAULT_PROXY_PORT"]
        self._url = f"http://{HOST}:{port}{CONTROL_PATH}"

    def set(
        self,
        *,
        fail_rate: float = 0.0,
        fail_for_seconds: float | None = None,
        latency_ms: float = 0.0,
        status: int = 503,
    ) -> dict[str, Any]:
        """Replace the current faults; returns the proxy's state."""
        body: dict[str, Any] = {"fail_rate": fail_rate, "latency_ms": latency_ms, "status": status}
        if fail_for_seconds is not None:
            body["fail_for_seconds"] = fail_for_seconds
        return self._call("PUT", body)

    def clear(self) -> dict[str, Any]:
        """Forward everything again."""
        return self._call("DELETE")

    def state(self) -> dict[str, Any]:
        """Current faults and counters of forwarded and failed requests."""
        return self._call("GET")

    def _call(self, method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self._url, data=data, method=method)
        try:
            with _OPENER.open(request, timeout=5) as response:
                state: dict[str, Any] = json.loads(response.read())
                return state
        except OSError as error:
            raise StackError(f"fault proxy at {self._url} did not answer: {error}") from error
