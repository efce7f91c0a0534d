"""Composition root of the retry worker: settings and ports -> task endpoint and its jobs."""

from __future__ import annotations

from retry_worker.handler import TaskAttempt, TaskReply, handle_retry
from retry_worker.task import TaskEndpoint
from shared.auth import Verifier, tasks_verifier
from shared.healing import HealingPorts
from shared.recent_reconcile import reconcile_recent
from shared.redrive import redrive
from shared.settings import Settings


def build_task_endpoint(
    settings: Settings,
    *,
    ports: HealingPorts | None = None,
    verifier: Verifier | None = None,
) -> TaskEndpoint:
    """The Cloud Tasks endpoint with the `redrive` and `reconcile` jobs Cloud Scheduler calls;
    production ports and verifier unless given.

    Raises `ConfigError` on unsafe settings.
    """
    verifier = verifier or tasks_verifier(settings)
    if ports is None:
        from shared.bootstrap import build_healing_ports

        ports = build_healing_ports(settings)
    healing = ports

    def handle(attempt: TaskAttempt) -> TaskReply:
        return handle_retry(attempt, healing.sync, max_retries=settings.max_retries)

    return TaskEndpoint(
        verifier,
        settings.bq_table,
        handle,
        jobs={
            "redrive": lambda: redrive(healing).as_json(),
            "reconcile": lambda: reconcile_recent(healing).as_json(),
        },
    )
