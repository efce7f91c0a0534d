"""The three functions served from the benchmark's process, over counting adapters.

The local stack's own servers (trigger, sync worker, retry worker) and its
scheduler are stopped; this process binds the same ports with the same
handlers (`handle_session_written`, `PushEndpoint` + `handle_deliveries`,
`TaskEndpoint` + `handle_retry`, `redrive`, `reconcile_recent`), so the
emulators deliver to it exactly as they deliver to the stack: every Firestore
write fires the trigger, Pub/Sub pushes each message, Cloud Tasks dispatches
each retry. Each request is one invocation; each adapter call is tallied.
"""

from __future__ import annotations

import dataclasses
import io
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cloudevents.http import from_http
from flask import Flask, request
from werkzeug.serving import BaseWSGIServer, make_server

from bench import billing_sizes
from bench.counting_ports import (
    CountingFailureStore,
    CountingPublisher,
    CountingQueue,
    CountingRowReader,
    CountingSessionStore,
    CountingSink,
)
from bench.ops import Ops
from bench.outage_sink import OutageSink
from cli.cost import operations as op
from cli.local.net import HOST
from cli.local.stack import LocalStack
from retry_worker.handler import TaskAttempt, TaskReply, handle_retry
from retry_worker.task import TaskEndpoint
from shared.auth import AllowAll
from shared.gcp.bigquery_reader import BigQueryRowReader
from shared.gcp.bigquery_sink import BigQueryRowSink
from shared.gcp.clients import (
    bigquery_client,
    firestore_client,
    publisher_client,
    queue_path,
    tasks_client,
)
from shared.gcp.firestore_failures import FirestoreFailureStore
from shared.gcp.firestore_sessions import FirestoreSessionStore
from shared.gcp.pubsub_publisher import PubSubPublisher
from shared.gcp.tasks_queue import CloudTasksRetryQueue
from shared.healing import PUBLISH_BATCH, HealingPorts
from shared.healing_policy import healing_policy
from shared.logging import configure_logging
from shared.pseudonym import Pseudonymizer
from shared.recent_reconcile import reconcile_recent
from shared.redrive import redrive
from shared.settings import Settings
from shared.sync import SyncPorts
from sync_worker.batcher import MicroBatcher
from sync_worker.envelope import NotAnEnvelope, parse_push_envelope
from sync_worker.handler import Delivery, Handled, WorkerPorts, handle_deliveries
from sync_worker.push import PushEndpoint
from trigger.handler import handle_session_written

TRIGGER, SYNC_WORKER, RETRY_WORKER = "trigger", "sync_worker", "retry_worker"
LOGS = "logging"
SERVED = ("trigger", "sync-worker", "retry-worker", "scheduler")  # stack services replaced
SERVER_THREADS = 64


class LogTally(io.StringIO):
    """The pipeline's JSON log lines, counted (entries, bytes) and discarded."""

    def __init__(self, tally: Ops) -> None:
        super().__init__()
        self._tally = tally

    def write(self, text: str) -> int:
        lines = text.count("\n")
        if lines:
            self._tally.add(LOGS, op.LOG_ENTRIES, lines)
        self._tally.add(LOGS, op.LOG_BYTES, len(text.encode("utf-8")))
        return len(text)


@dataclass
class Traffic:
    """Requests each function received, counted even while the trigger is paused."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    received: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SERVED[:3], 0))
    last_request: float = field(default_factory=time.monotonic)

    def note(self, function: str) -> None:
        with self.lock:
            self.received[function] += 1
            self.last_request = time.monotonic()

    def count(self, function: str) -> int:
        with self.lock:
            return self.received[function]

    def quiet_for(self) -> float:
        """Seconds since the last request any function received."""
        with self.lock:
            return time.monotonic() - self.last_request


@dataclass
class CountedPipeline:
    """The functions this process serves, their tally, and the switches scenarios use."""

    settings: Settings
    tally: Ops
    outage: OutageSink
    traffic: Traffic
    healing: HealingPorts
    trigger_paused: bool = False  # as if the function were not deployed yet (setup only)

    def settle(self, *, quiet: float = 1.5, timeout: float = 120.0) -> None:
        """Wait until no function has received a request for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while self.traffic.quiet_for() < quiet:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the pipeline was still busy after {timeout:.0f} s")
            time.sleep(0.1)

    def wait_received(self, function: str, count: int, *, timeout: float = 60.0) -> None:
        """Wait until `function` has received at least `count` requests in all."""
        deadline = time.monotonic() + timeout
        while self.traffic.count(function) < count:
            if time.monotonic() > deadline:
                got = self.traffic.count(function)
                raise TimeoutError(f"{function} received {got} of {count} requests")
            time.sleep(0.05)


def _counted_sync_ports(
    settings: Settings, tally: Ops, actor: str, sink: OutageSink, firestore: Any
) -> SyncPorts:
    """What `build_sync_ports` builds, each adapter wrapped in its counter."""
    return SyncPorts(
        sessions=CountingSessionStore(FirestoreSessionStore(firestore), tally, actor),
        failures=CountingFailureStore(FirestoreFailureStore(firestore), tally, actor),
        sink=CountingSink(sink, tally, actor),
        pseudonymizer=Pseudonymizer.from_settings(settings),
        table=settings.bq_table,
        policy=healing_policy(
            retention_hours=settings.redrive_retention_hours,
            reconcile_window_hours=settings.reconcile_window_hours,
            time_scale=settings.time_scale,
        ),
    )


def _retry_queue(settings: Settings) -> CloudTasksRetryQueue:
    return CloudTasksRetryQueue(
        tasks_client(settings),
        queue_path(settings),
        target_url=settings.retry_worker_url,
        service_account=settings.tasks_service_account,
        audience=settings.tasks_audience,
        dispatch_deadline_seconds=settings.dispatch_deadline_seconds,
    )


def table_scan_bytes(settings: Settings) -> Callable[[bool, datetime | None, datetime | None], int]:
    """Bytes a query of `sessions` scans: every row through `sessions_latest` (its window
    function needs them all), else the rows whose `start_time` is in the window."""
    client = bigquery_client(settings)

    def scan(through_view: bool, since: datetime | None, until: datetime | None) -> int:
        total = 0
        for row in client.list_rows(settings.table_id):
            start = row.get("start_time")
            in_window = (since is None or start >= since) and (until is None or start < until)
            if through_view or in_window:
                total += billing_sizes.row_bytes(dict(row.items()))
        return total

    return scan


def _timed(tally: Ops, actor: str, traffic: Traffic, function: str) -> Callable[..., Any]:
    """Decorate a view: one invocation, its wall time, and the traffic note."""

    def decorate(view: Callable[[], Any]) -> Callable[[], Any]:
        def counted() -> Any:
            traffic.note(function)
            started = time.perf_counter()
            try:
                return view()
            finally:
                tally.add(actor, op.INVOCATIONS)
                tally.add(actor, op.REQUEST_SECONDS, time.perf_counter() - started)

        return counted

    return decorate


def _trigger_app(pipeline: CountedPipeline, publisher: CountingPublisher) -> Flask:
    app = Flask("counted-trigger")
    tally, traffic = pipeline.tally, pipeline.traffic

    def on_event() -> tuple[str, int]:
        event = from_http(dict(request.headers), request.get_data())
        if handle_session_written(event["id"], event.data, publisher) is None:
            tally.add(TRIGGER, op.IGNORED)
        return "OK", 200

    timed = _timed(tally, TRIGGER, traffic, "trigger")(on_event)

    @app.post("/", defaults={"path": ""})
    @app.post("/<path:path>")
    def trigger(path: str) -> Any:
        if pipeline.trigger_paused:
            traffic.note("trigger")
            return "OK", 200
        return timed()

    return app


def _sync_worker_app(pipeline: CountedPipeline, ports: WorkerPorts) -> Flask:
    app = Flask("counted-sync-worker")
    settings, tally = pipeline.settings, pipeline.tally

    def process(deliveries: Sequence[Delivery]) -> list[Handled]:
        return handle_deliveries(deliveries, ports)

    batcher: MicroBatcher[Delivery, Handled] = MicroBatcher(
        process, window=settings.batch_window_ms / 1000, max_size=settings.batch_max_rows
    )
    endpoint = PushEndpoint(AllowAll(), batcher.submit)

    def push() -> Any:
        body = request.get_data()
        try:
            delivery = parse_push_envelope(body)
        except NotAnEnvelope:
            pass
        else:
            size = billing_sizes.message_bytes(delivery.data, delivery.attributes)
            tally.add(SYNC_WORKER, op.DELIVERED)
            tally.add(SYNC_WORKER, op.DELIVERY_BILLABLE, billing_sizes.pubsub_billable_bytes(size))
        return endpoint(request)

    app.add_url_rule(
        "/",
        "push",
        _timed(tally, SYNC_WORKER, pipeline.traffic, "sync-worker")(push),
        methods=["POST"],
    )
    return app


def _retry_worker_app(pipeline: CountedPipeline, ports: SyncPorts) -> Flask:
    app = Flask("counted-retry-worker")
    settings, tally, healing = pipeline.settings, pipeline.tally, pipeline.healing

    def handle(attempt: TaskAttempt) -> TaskReply:
        tally.add(RETRY_WORKER, op.TASK_OPERATIONS)  # the dispatch attempt
        return handle_retry(attempt, ports, max_retries=settings.max_retries)

    endpoint = TaskEndpoint(
        AllowAll(),
        settings.bq_table,
        handle,
        jobs={
            "redrive": lambda: redrive(healing).as_json(),
            "reconcile": lambda: reconcile_recent(healing).as_json(),
        },
    )
    view = _timed(tally, RETRY_WORKER, pipeline.traffic, "retry-worker")(lambda: endpoint(request))
    app.add_url_rule("/", "root", view, methods=["POST"])
    app.add_url_rule("/<path:path>", "job", lambda path: view(), methods=["POST"])
    return app


def build_counted_pipeline(settings: Settings, tally: Ops) -> tuple[CountedPipeline, list[Flask]]:
    """Real adapters in counters, the functions over them, and their apps (not yet served)."""
    proxy = f"{HOST}:{settings.local_ports['LOCAL_FAULT_PROXY_PORT']}"
    settings = dataclasses.replace(settings, auth_disabled=True)
    firestore = firestore_client(settings)
    sink = OutageSink(
        BigQueryRowSink(
            bigquery_client(settings, endpoint=proxy),
            settings.table_id,
            timeout=settings.bq_timeout_seconds,
        )
    )
    sync_worker = _counted_sync_ports(settings, tally, SYNC_WORKER, sink, firestore)
    retry_worker = _counted_sync_ports(settings, tally, RETRY_WORKER, sink, firestore)
    project = settings.require_project()
    healing = HealingPorts(
        sync=retry_worker,
        publisher=CountingPublisher(
            PubSubPublisher(
                publisher_client(settings, max_messages=PUBLISH_BATCH), project, settings.topic
            ),
            tally,
            RETRY_WORKER,
            per_request=PUBLISH_BATCH,
        ),
        rows=CountingRowReader(
            BigQueryRowReader(
                bigquery_client(settings, endpoint=proxy),
                table_id=settings.table_id,
                latest_view_id=settings.latest_view_id,
                timeout=settings.bq_timeout_seconds,
            ),
            tally,
            RETRY_WORKER,
            table_scan_bytes(settings),
        ),
    )
    pipeline = CountedPipeline(settings, tally, sink, Traffic(), healing)
    trigger_publisher = CountingPublisher(
        PubSubPublisher(publisher_client(settings, max_messages=1), project, settings.topic),
        tally,
        TRIGGER,
        per_request=1,
    )
    queue = CountingQueue(_retry_queue(settings), tally, SYNC_WORKER)
    apps = [
        _trigger_app(pipeline, trigger_publisher),
        _sync_worker_app(pipeline, WorkerPorts(sync=sync_worker, queue=queue)),
        _retry_worker_app(pipeline, retry_worker),
    ]
    return pipeline, apps


def _serve(app: Flask, port: int) -> BaseWSGIServer:
    server = make_server(HOST, port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True, name=f"serve-{port}").start()
    return server


@contextmanager
def counted_pipeline(stack: LocalStack, tally: Ops) -> Iterator[CountedPipeline]:
    """Serve the functions from this process in place of the stack's servers and scheduler.

    The pipeline's logs are counted and discarded. On exit the stack's own
    servers and scheduler start again.
    """
    settings = stack.settings
    for name in SERVED:
        stack.stop_service(name)
    configure_logging(settings.log_level, LogTally(tally))
    pipeline, apps = build_counted_pipeline(settings, tally)
    ports = ("LOCAL_TRIGGER_PORT", "LOCAL_SYNC_WORKER_PORT", "LOCAL_RETRY_WORKER_PORT")
    servers = [
        _serve(app, settings.local_ports[port]) for app, port in zip(apps, ports, strict=True)
    ]
    try:
        yield pipeline
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        configure_logging(settings.log_level, io.StringIO())
        stack.up()
