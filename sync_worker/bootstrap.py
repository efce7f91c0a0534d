"""Composition root of the sync worker: settings -> adapters -> handler, push or pull."""

from __future__ import annotations

from collections.abc import Sequence

from shared.auth import push_verifier
from shared.gcp.clients import queue_path, subscriber_client, tasks_client
from shared.gcp.sync_ports import build_sync_ports
from shared.gcp.tasks_queue import CloudTasksRetryQueue
from shared.logging import configure_logging
from shared.settings import Settings
from sync_worker.batcher import MicroBatcher
from sync_worker.handler import Delivery, Handled, WorkerPorts, handle_deliveries
from sync_worker.pull import PullRunner
from sync_worker.push import PushEndpoint


def build_worker_ports(settings: Settings) -> WorkerPorts:
    """Sync ports plus the retry queue."""
    queue = CloudTasksRetryQueue(
        tasks_client(settings),
        queue_path(settings),
        target_url=settings.retry_worker_url,
        service_account=settings.tasks_service_account,
        audience=settings.tasks_audience,
        dispatch_deadline_seconds=settings.dispatch_deadline_seconds,
    )
    return WorkerPorts(sync=build_sync_ports(settings), queue=queue)


def build_push_endpoint(settings: Settings) -> PushEndpoint:
    """The push endpoint with its micro-batcher; raises `ConfigError` on unsafe settings."""
    configure_logging(settings.log_level)
    verifier = push_verifier(settings)
    ports = build_worker_ports(settings)

    def process(deliveries: Sequence[Delivery]) -> list[Handled]:
        return handle_deliveries(deliveries, ports)

    batcher: MicroBatcher[Delivery, Handled] = MicroBatcher(
        process, window=settings.batch_window_ms / 1000, max_size=settings.batch_max_rows
    )
    return PushEndpoint(verifier, batcher.submit)


def build_pull_runner(
    settings: Settings, *, subscription: str, batch_size: int, concurrency: int = 2
) -> PullRunner:
    """A streaming-pull runner on `subscription`: batches of up to `batch_size`, in parallel."""
    configure_logging(settings.log_level)
    ports = build_worker_ports(settings)
    subscriber = subscriber_client(settings)

    def handle(deliveries: Sequence[Delivery]) -> list[Handled]:
        return handle_deliveries(deliveries, ports)

    return PullRunner(
        subscriber,
        subscriber.subscription_path(settings.require_project(), subscription),
        handle,
        batch_size=batch_size,
        window=settings.batch_window_ms / 1000,
        concurrency=concurrency,
    )
