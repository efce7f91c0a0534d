"""The local stand-in for Cloud Scheduler: POST to each job's URL at its interval.

Run: `python -m cli.local.scheduler --port P --job NAME URL SECONDS [--job ...]`.
Like Cloud Scheduler's jobs in terraform, each call is a POST with an empty
JSON body; a failed call is not retried (the next tick comes anyway). GET
`/__jobs__` shows each job's last run: when, the HTTP status and the reply.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CONTROL_PATH = "/__jobs__"
CALL_TIMEOUT_SECONDS = 300.0
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Job:
    """One scheduled call and what its last run answered."""

    name: str
    url: str
    every: float
    runs: int = 0
    last_run: float | None = None
    last_status: int | None = None
    last_reply: str = ""

    def run(self) -> None:
        request = urllib.request.Request(
            self.url, data=b"{}", method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with _OPENER.open(request, timeout=CALL_TIMEOUT_SECONDS) as response:
                self.last_status, reply = response.status, response.read()
        except urllib.error.HTTPError as error:
            self.last_status, reply = error.code, error.read()
        except OSError as error:
            self.last_status, reply = None, str(error).encode()
        self.runs += 1
        self.last_run = time.time()
        self.last_reply = reply.decode(errors="replace")[:2000]

    def loop(self) -> None:
        """Run every `every` seconds (the first time one interval after start), measured
        from the start of the previous run."""
        while True:
            started = time.monotonic()
            time.sleep(self.every)
            self.run()
            time.sleep(max(0.0, self.every - (time.monotonic() - started) - self.every))


class Handler(BaseHTTPRequestHandler):
    server: SchedulerServer

    def do_GET(self) -> None:
        if self.path != CONTROL_PATH:
            self.send_error(404)
            return
        body = json.dumps([asdict(job) for job in self.server.jobs]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class SchedulerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], jobs: list[Job]) -> None:
        super().__init__(address, Handler)
        self.jobs = jobs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--job", nargs=3, action="append", default=[], metavar=("NAME", "URL", "SECONDS")
    )
    args = parser.parse_args(argv)
    jobs = [Job(name, url, float(every)) for name, url, every in args.job]
    for job in jobs:
        threading.Thread(target=job.loop, name=job.name, daemon=True).start()
    SchedulerServer((args.host, args.port), jobs).serve_forever()


if __name__ == "__main__":
    main()
