"""Start gcloud-tasks-emulator with a dispatcher that keeps Cloud Tasks' real rules.

Runs with the tasks-emulator virtualenv's own Python; every argument goes
unchanged to the emulator's command line. The emulator as published retries a
failed task every 0.1 s, ignores the queue's rate and retry config, reuses task
names freely, has no GetTask, and its dispatcher thread dies for good when a
task is purged under it. This launcher replaces the dispatcher so that, as on
Cloud Tasks:

- a failed task waits the queue's backoff (min/max backoff, doublings) before the
  next attempt and ends after `max_attempts`;
- dispatches stay under `max_dispatches_per_second`, several at a time;
- a task name stays taken while its task lives and for a while after it ended
  (ALREADY_EXISTS), and GetTask finds only live tasks.

Every duration is multiplied by `LOCAL_TIME_SCALE` (the environment), the same
scale the workers apply to the redrive schedule, so tests see the real schedule
compressed.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib import error as urlerror
from urllib import request as urlrequest

from gcloud_tasks_emulator import server
from gcloud_tasks_emulator.__main__ import main
from google.api_core.exceptions import AlreadyExists, NotFound
from google.cloud.tasks_v2 import Queue, Task

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from shared.queue_policy import QueuePolicy

TIME_SCALE = float(os.environ.get("LOCAL_TIME_SCALE", "1"))
TOMBSTONE_SECONDS = 3600.0  # Cloud Tasks keeps an ended task's name taken about an hour
CONCURRENT_DISPATCHES = 16
TICK_SECONDS = 0.01
_DIRECT = urlrequest.build_opener(urlrequest.ProxyHandler({}))  # targets are local: no proxy
_lock = threading.RLock()
_tombstones: dict[str, float] = {}  # task name -> monotonic time its name frees up


def _now() -> datetime:
    return datetime.now(UTC)


def _policy(queue: Queue) -> QueuePolicy:
    retry = queue.retry_config
    return QueuePolicy(
        max_dispatches_per_second=queue.rate_limits.max_dispatches_per_second or 500.0,
        max_retries=retry.max_attempts,
        min_backoff_seconds=retry.min_backoff.total_seconds() if retry.min_backoff else 0.1,
        max_backoff_seconds=retry.max_backoff.total_seconds() if retry.max_backoff else 3600.0,
        max_doublings=retry.max_doublings,
    )


def _create_task(state: server.QueueState, queue: str, task: Task) -> Task:
    """Refuse a name that a live task holds or a recently ended task left behind."""
    with _lock:
        if task.name:
            live = any(t.name == task.name for t in state._queue_tasks.get(queue, []))
            if live or _tombstones.get(task.name, 0.0) > time.monotonic():
                raise AlreadyExists(f"Requested entity already exists: {task.name}")
        return _original_create_task(state, queue, task)


def _purge_queue(state: server.QueueState, queue_name: str) -> Queue:
    """Empty the queue and forget its tombstones (the local stack's reset)."""
    with _lock:
        for name in [n for n in _tombstones if n.startswith(f"{queue_name}/")]:
            del _tombstones[name]
        return _original_purge_queue(state, queue_name)


def _get_task(self: Any, request: Any, context: Any) -> Task:
    with _lock:
        queue = request.name.rsplit("/tasks/", 1)[0]
        for task in self._state._queue_tasks.get(queue, []):
            if task.name == request.name:
                return task
    error = NotFound(f"Task not found: {request.name}")
    context.abort(error.grpc_status_code, error.message)
    raise error  # not reached: abort raises


class ScheduledProcessor(threading.Thread):
    """Dispatches due tasks of every running queue with the queue's rate and retry config."""

    def __init__(self, state: server.QueueState) -> None:
        super().__init__(daemon=True)
        self._state = state
        self._running = threading.Event()
        self._in_flight: set[str] = set()
        self._pool = ThreadPoolExecutor(CONCURRENT_DISPATCHES, thread_name_prefix="dispatch")
        self._credit: dict[str, tuple[float, float]] = {}  # queue -> (dispatches allowed, as of)

    def run(self) -> None:
        self._running.set()
        while self._running.is_set():
            for queue in list(self._state._queues):
                self._dispatch_due(queue)
            time.sleep(TICK_SECONDS)

    def join(self, timeout: float | None = None) -> None:
        self._running.clear()
        self._pool.shutdown(wait=False)
        super().join(timeout)

    def _dispatch_due(self, queue_name: str) -> None:
        with _lock:
            queue = self._state._queues.get(queue_name)
            if queue is None or queue.state != Queue.State.RUNNING:
                return
            interval = TIME_SCALE / _policy(queue).max_dispatches_per_second
            now = _now()
            for task in list(self._state._queue_tasks.get(queue_name, [])):
                waiting = task.schedule_time and task.schedule_time > now
                if waiting or task.name in self._in_flight:
                    continue
                if not self._take_slot(queue_name, interval):
                    return
                self._in_flight.add(task.name)
                self._pool.submit(self._dispatch, queue_name, task)

    def _take_slot(self, queue_name: str, interval: float) -> bool:
        """Whether the queue's rate allows one more dispatch now (a token bucket).

        Credit accrues one dispatch per `interval` and carries over between looks,
        up to two looks' worth: a rate above one dispatch per look is kept, and an
        idle queue gains no burst beyond that (a slow queue none at all).
        """
        clock = time.monotonic()
        credit, since = self._credit.get(queue_name, (1.0, clock))
        credit = min(credit + (clock - since) / interval, max(1.0, 2 * TICK_SECONDS / interval))
        if credit < 1.0:
            self._credit[queue_name] = (credit, clock)
            return False
        self._credit[queue_name] = (credit - 1.0, clock)
        return True

    def _dispatch(self, queue_name: str, task: Task) -> None:
        task.dispatch_count += 1
        try:
            status = _post(queue_name, task)
        except urlerror.HTTPError as failure:
            status = failure.code
        except Exception:  # refused, reset, timed out: Cloud Tasks counts these as failures
            status = 503
        with _lock:
            self._in_flight.discard(task.name)
            tasks = self._state._queue_tasks.get(queue_name, [])
            if not any(t is task for t in tasks):
                return  # purged or deleted meanwhile
            queue = self._state._queues[queue_name]
            policy = _policy(queue)
            if 200 <= status < 300 or (
                policy.max_retries > 0 and task.dispatch_count >= policy.max_retries
            ):
                tasks.remove(task)
                _tombstones[task.name] = time.monotonic() + TOMBSTONE_SECONDS * TIME_SCALE
                return
            delay = policy.backoff_seconds(task.dispatch_count) * TIME_SCALE
            task.schedule_time = _now() + timedelta(seconds=delay)


def _post(queue_name: str, task: Task) -> int:
    """POST an HTTP task as Cloud Tasks does, cut off at its dispatch deadline; the status."""
    http = task.http_request
    headers = {
        **dict(http.headers),
        "X-CloudTasks-QueueName": queue_name.rsplit("/", 1)[-1],
        "X-CloudTasks-TaskName": task.name.rsplit("/", 1)[-1],
        "X-CloudTasks-TaskRetryCount": str(task.dispatch_count - 1),
        "X-CloudTasks-TaskExecutionCount": str(task.dispatch_count - 1),
    }
    deadline = task.dispatch_deadline.total_seconds() if task.dispatch_deadline else 600.0
    call = urlrequest.Request(http.url, data=http.body, headers=headers, method="POST")
    with _DIRECT.open(call, timeout=deadline) as response:
        return int(response.status)


_original_create_task = server.QueueState.create_task
_original_purge_queue = server.QueueState.purge_queue

if __name__ == "__main__":
    server.QueueState.create_task = _create_task
    server.QueueState.purge_queue = _purge_queue
    server.Greeter.GetTask = _get_task
    server.Processor = ScheduledProcessor
    main()
