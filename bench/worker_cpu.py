"""Worker CPU per synced session: push mode (the stack's sync-worker server) and pull mode.

Push: the stack's sync worker is restarted with `BATCH_MAX_ROWS` = 1, 40, 500;
N replay messages (fresh event ids, so each is a full read, insert and status
write) go to the live topic and its push subscription; the CPU is what the
server's process tree used (/proc/PID/stat utime + stime) from the first
message to the last status write. Its log says how large the batches really
were (the emulator pushes only a few messages at a time).
Pull: `PullRunner` in a child process on a fresh subscription, its own
`getrusage` after a warm-up. The trigger: CPU of its process per event while
sessions complete live. Prints figures only; asserts nothing about time.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.process_cpu import tree_cpu_seconds
from bench.subscriptions import fresh_subscription
from cli.local.stack import LocalStack
from cli.sample_data import GeneratedSession, completed, generate_sessions, write_sessions
from shared.contract import SessionCompleted
from shared.gcp.clients import firestore_client, publisher_client
from shared.gcp.pubsub_publisher import PubSubPublisher
from shared.healing import PUBLISH_BATCH
from shared.model import SessionKey
from shared.settings import Settings

BATCH_SIZES = (1, 40, 500)
TIMEOUT_SECONDS = 600.0
QUIET_SERVICES = ("trigger", "scheduler")  # stopped while a worker is measured


@dataclass(frozen=True)
class CpuFigure:
    """CPU a worker used per synced session in one mode at one batch size."""

    mode: str  # push, pull, trigger
    batch_size: int
    sessions: int
    cpu_seconds: float
    wall_seconds: float
    mean_batch: float  # rows per insert actually seen (push: from the server's log)

    @property
    def micros_per_session(self) -> float:
        return self.cpu_seconds / self.sessions * 1e6 if self.sessions else math.nan


def _pid(stack: LocalStack, service: str) -> int:
    record = stack.state.read(service)
    if record is None:
        raise RuntimeError(f"{service} is not running")
    return record.pid


def _publish_replays(settings: Settings, keys: Sequence[SessionKey], topic: str) -> set[str]:
    client = publisher_client(settings, max_messages=PUBLISH_BATCH)
    messages = [SessionCompleted.new(k.user_id, k.session_id, origin="replay") for k in keys]
    PubSubPublisher(client, settings.require_project(), topic).publish(messages)
    return {message.event_id for message in messages}


def _wait_synced(settings: Settings, keys: Sequence[SessionKey], events: set[str]) -> None:
    """Until every session's last sync is one of `events` (a status write per session)."""
    client = firestore_client(settings)
    references = [client.document(key.path) for key in keys]
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while True:
        done = sum(
            (doc.to_dict() or {}).get("bigquerySyncEventId") in events
            for doc in client.get_all(references)
        )
        if done == len(keys):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{done} of {len(keys)} sessions synced")
        time.sleep(0.05)


def _log_batches(log: Path, offset: int) -> float:
    """Mean rows per insert in the server's `rows_inserted` log lines after `offset`."""
    sizes = []
    with log.open("rb") as lines:
        lines.seek(offset)
        for line in lines:
            if b'"rows_inserted"' in line:
                sizes.append(json.loads(line)["count"])
    return statistics.fmean(sizes) if sizes else math.nan


@contextmanager
def _sync_worker_batch(stack: LocalStack, batch_size: int) -> Iterator[None]:
    """The stack's sync worker restarted with this batch size (INFO logs, to count batches)."""
    saved = {name: os.environ.get(name) for name in ("BATCH_MAX_ROWS", "LOG_LEVEL")}
    stack.stop_service("sync-worker")
    os.environ["BATCH_MAX_ROWS"] = str(batch_size)
    os.environ["LOG_LEVEL"] = "INFO"
    try:
        stack.up()
        for name in QUIET_SERVICES:  # `up` started them again
            stack.stop_service(name)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        stack.stop_service("sync-worker")


def push_cpu(
    stack: LocalStack, sessions: Sequence[GeneratedSession], batch_size: int, warmup: int
) -> CpuFigure:
    """CPU of the sync-worker server per session, pushed by the emulator."""
    settings = stack.settings
    keys = [session.key for session in sessions]
    with _sync_worker_batch(stack, batch_size):
        warm = keys[:warmup]
        _wait_synced(settings, warm, _publish_replays(settings, warm, settings.topic))
        pid = _pid(stack, "sync-worker")
        log = stack.state.log_path("sync-worker")
        offset = log.stat().st_size
        before, started = tree_cpu_seconds(pid), time.perf_counter()
        _wait_synced(settings, keys, _publish_replays(settings, keys, settings.topic))
        cpu, wall = tree_cpu_seconds(pid) - before, time.perf_counter() - started
        mean_batch = _log_batches(log, offset)
    return CpuFigure("push", batch_size, len(keys), cpu, wall, mean_batch)


def pull_cpu(
    settings: Settings, sessions: Sequence[GeneratedSession], batch_size: int, warmup: int
) -> CpuFigure:
    """CPU of a `PullRunner` child process per session (its own getrusage)."""
    keys = [session.key for session in sessions]
    with fresh_subscription(settings, "bench-cpu") as name:
        _publish_replays(settings, keys, name)
        command = [
            sys.executable,
            "-m",
            "bench.pull_cpu",
            f"--subscription={name}",
            f"--batch-size={batch_size}",
            f"--count={len(keys)}",
            f"--warmup={warmup}",
        ]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            env={**os.environ, "LOG_LEVEL": "ERROR"},
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"pull child failed: {done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    measured = int(report["sessions"])
    mean_batch = report["acked"] / report["batches"] if report["batches"] else math.nan
    return CpuFigure(
        "pull", batch_size, measured, report["cpu_seconds"], report["wall_seconds"], mean_batch
    )


def trigger_cpu(stack: LocalStack, sessions: Sequence[GeneratedSession]) -> CpuFigure:
    """CPU of the trigger server per event while sessions are created completed and synced:
    two events each (the completion, which publishes, and the worker's status write)."""
    settings = stack.settings
    client = firestore_client(settings)
    stack.up()
    pid = _pid(stack, "trigger")
    before, started = tree_cpu_seconds(pid), time.perf_counter()
    write_sessions(client, sessions, lambda s: completed(s.document))
    references = [client.document(session.key.path) for session in sessions]
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not all(
        (d.to_dict() or {}).get("bigquerySyncStatus") == "synced"
        for d in client.get_all(references)
    ):
        if time.monotonic() > deadline:
            raise TimeoutError("sessions did not sync")
        time.sleep(0.1)
    time.sleep(2.0)  # the status writes' events reach the trigger
    cpu, wall = tree_cpu_seconds(pid) - before, time.perf_counter() - started
    return CpuFigure("trigger", 1, 2 * len(sessions), cpu, wall, math.nan)


def measure(
    stack: LocalStack, *, push_sessions: int, pull_sessions: Sequence[int], trigger_sessions: int
) -> list[CpuFigure]:
    """Every figure: push and pull at each batch size, then the trigger."""
    settings = stack.settings
    stack.reset()
    for name in QUIET_SERVICES:
        stack.stop_service(name)
    most = max(push_sessions, *pull_sessions)
    generated = list(generate_sessions(most + 50, seed=23))
    write_sessions(firestore_client(settings), generated, lambda s: completed(s.document))
    warmup = 20
    figures: list[CpuFigure] = []
    try:
        for size in BATCH_SIZES:
            figures.append(push_cpu(stack, generated[:push_sessions], size, warmup))
        for size, count in zip(BATCH_SIZES, pull_sessions, strict=True):
            figures.append(pull_cpu(settings, generated[:count], size, max(warmup, size)))
        stack.up()
        stack.reset()
        figures.append(trigger_cpu(stack, list(generate_sessions(trigger_sessions, seed=29))))
    finally:
        stack.up()
    return figures
