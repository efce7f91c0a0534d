"""Composition root of the retry worker: settings -> adapters -> task endpoint."""

from __future__ import annotations

from retry_worker.handler import TaskAttempt, TaskReply, handle_retry
from retry_worker.task import TaskEndpoint
from shared.auth import tasks_verifier
from shared.gcp.sync_ports import build_sync_ports
from shared.logging import configure_logging
from shared.settings import Settings


def build_task_endpoint(settings: Settings) -> TaskEndpoint:
    """The Cloud Tasks endpoint; raises `ConfigError` on unsafe settings."""
    configure_logging(settings.log_level)
    verifier = tasks_verifier(settings)
    ports = build_sync_ports(settings)

    def handle(attempt: TaskAttempt) -> TaskReply:
        return handle_retry(attempt, ports, max_retries=settings.max_retries)

    return TaskEndpoint(verifier, settings.bq_table, handle)
