"""Composition root of the sync worker: settings and ports -> push endpoint or pull runner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.auth import Verifier, push_verifier
from shared.settings import Settings
from sync_worker.batcher import MicroBatcher
from sync_worker.handler import Delivery, Handled, WorkerPorts, handle_deliveries
from sync_worker.pull import PullRunner
from sync_worker.push import PushEndpoint


def build_worker_ports(settings: Settings) -> WorkerPorts:
    """The production ports: sync ports plus the Cloud Tasks retry queue."""
    from shared.bootstrap import build_sync_ports
    from shared.gcp.clients import queue_path, tasks_client
    from shared.gcp.tasks_queue import CloudTasksRetryQueue

    queue = CloudTasksRetryQueue(
        tasks_client(settings),
        queue_path(settings),
        target_url=settings.retry_worker_url,
        service_account=settings.tasks_service_account,
        audience=settings.tasks_audience,
        dispatch_deadline_seconds=settings.dispatch_deadline_seconds,
    )
    return WorkerPorts(sync=build_sync_ports(settings), queue=queue)


def build_push_endpoint(
    settings: Settings,
    *,
    ports: WorkerPorts | None = None,
    verifier: Verifier | None = None,
) -> PushEndpoint:
    """The push endpoint with its micro-batcher; production ports and verifier unless given.

    Raises `ConfigError` on unsafe settings.
    """
    verifier = verifier or push_verifier(settings)
    worker_ports = ports or build_worker_ports(settings)

    def process(deliveries: Sequence[Delivery]) -> list[Handled]:
        return handle_deliveries(deliveries, worker_ports)

    batcher: MicroBatcher[Delivery, Handled] = MicroBatcher(
        process, window=settings.batch_window_ms / 1000, max_size=settings.batch_max_rows
    )
    return PushEndpoint(verifier, batcher.submit)


def build_pull_runner(
    settings: Settings,
    *,
    subscription: str,
    batch_size: int,
    concurrency: int = 2,
    ports: WorkerPorts | None = None,
    subscriber: Any = None,
) -> PullRunner:
    """A streaming-pull runner on `subscription`: batches of up to `batch_size`, in parallel."""
    if subscriber is None:
        from shared.gcp.clients import subscriber_client

        subscriber = subscriber_client(settings)
    worker_ports = ports or build_worker_ports(settings)

    def handle(deliveries: Sequence[Delivery]) -> list[Handled]:
        return handle_deliveries(deliveries, worker_ports)

    return PullRunner(
        subscriber,
        subscriber.subscription_path(settings.require_project(), subscription),
        handle,
        batch_size=batch_size,
        window=settings.batch_window_ms / 1000,
        concurrency=concurrency,
    )
