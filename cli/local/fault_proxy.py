"""Fault-injection HTTP proxy between the workers and the BigQuery emulator (local stack only).

Forwards every request to the upstream emulator unless a fault says otherwise:
fail a fraction of requests, fail everything for a window, or add latency.
Faults are switched at run time through `/__faults__` (GET shows, PUT sets,
DELETE clears), so a test or a demo run can change them without restarts.
Run: `python -m cli.local.fault_proxy --port P --upstream 127.0.0.1:Q`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CONTROL_PATH = "/__faults__"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host"}


@dataclass
class Faults:
    """What to do to forwarded requests; all off by default."""

    fail_rate: float = 0.0  # fraction of requests answered `status` (0..1)
    fail_until: float = 0.0  # epoch seconds: until then every request fails
    latency_ms: float = 0.0  # delay added before forwarding
    status: int = 503

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Faults:
        """Build from a control request; `fail_for_seconds` sets `fail_until` from now."""
        faults = cls(
            fail_rate=float(body.get("fail_rate", 0.0)),
            latency_ms=float(body.get("latency_ms", 0.0)),
            status=int(body.get("status", 503)),
            fail_until=float(body.get("fail_until", 0.0)),
        )
        if "fail_for_seconds" in body:
            faults.fail_until = time.time() + float(body["fail_for_seconds"])
        if not 0.0 <= faults.fail_rate <= 1.0 or faults.latency_ms < 0:
            raise ValueError("fail_rate must be within 0..1 and latency_ms not negative")
        if not 400 <= faults.status <= 599:
            raise ValueError("status must be an HTTP error status")
        return faults


class FaultState:
    """The current faults and the counters since they were set, shared by the handler threads."""

    def __init__(self, upstream: str, seed: int = 15) -> None:
        self.upstream = upstream
        self.faults = Faults()
        self.forwarded = 0
        self.failed = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def switch(self, faults: Faults) -> None:
        """Apply new faults; the counters restart so they describe this setting only."""
        with self._lock:
            self.faults = faults
            self.forwarded = 0
            self.failed = 0

    def decide(self) -> tuple[bool, float]:
        """(fail this request?, seconds of latency to add)."""
        with self._lock:
            faults = self.faults
            fail = time.time() < faults.fail_until or self._random.random() < faults.fail_rate
            if fail:
                self.failed += 1
            else:
                self.forwarded += 1
            return fail, faults.latency_ms / 1000

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                **asdict(self.faults),
                "failing_now": time.time() < self.faults.fail_until,
                "forwarded": self.forwarded,
                "failed": self.failed,
                "upstream": self.upstream,
            }


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultProxyServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        return None  # keep the log quiet; counters are on /__faults__

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith(CONTROL_PATH):
            self._control(body)
            return
        fail, latency = self.server.state.decide()
        if latency:
            time.sleep(latency)
        if fail:
            error = {
                "error": {"code": self.server.state.faults.status, "message": "injected fault"}
            }
            self._reply(self.server.state.faults.status, json.dumps(error).encode())
            return
        self._forward(body)

    def _control(self, body: bytes) -> None:
        state = self.server.state
        try:
            if self.command in ("PUT", "POST"):
                state.switch(Faults.from_json(json.loads(body or b"{}")))
            elif self.command == "DELETE":
                state.switch(Faults())
        except (ValueError, TypeError) as error:
            self._reply(400, json.dumps({"error": str(error)}).encode())
            return
        self._reply(200, json.dumps(state.describe()).encode())

    def _forward(self, body: bytes) -> None:
        host, port = self.server.state.upstream.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except OSError as error:
            self._reply(502, json.dumps({"error": f"upstream: {error}"}).encode())
            return
        finally:
            connection.close()
        passed = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        self._reply(response.status, payload, passed)

    def _reply(
        self, status: int, payload: bytes, headers: list[tuple[str, str]] | None = None
    ) -> None:
        self.send_response(status)
        headers = headers or [("Content-Type", "application/json")]
        for key, value in headers:
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class FaultProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: FaultState) -> None:
        super().__init__(address, ProxyHandler)
        self.state = state


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="host:port of the BigQuery emulator")
    args = parser.parse_args(argv)
    server = FaultProxyServer((args.host, args.port), FaultState(args.upstream))
    server.serve_forever()


if __name__ == "__main__":
    main()
