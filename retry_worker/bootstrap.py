"""Composition root of the retry worker: settings -> adapters -> task endpoint and jobs."""

from __future__ import annotations

from retry_worker.handler import TaskAttempt, TaskReply, handle_retry
from retry_worker.task import TaskEndpoint
from shared.auth import tasks_verifier
from shared.gcp.bigquery_reader import BigQueryRowReader
from shared.gcp.clients import bigquery_client, publisher_client
from shared.gcp.pubsub_publisher import PubSubPublisher
from shared.gcp.sync_ports import build_sync_ports
from shared.healing import PUBLISH_BATCH, HealingPorts
from shared.logging import configure_logging
from shared.recent_reconcile import reconcile_recent
from shared.redrive import redrive
from shared.settings import Settings


def build_task_endpoint(settings: Settings) -> TaskEndpoint:
    """The Cloud Tasks endpoint with the `redrive` and `reconcile` jobs Cloud Scheduler calls.

    Raises `ConfigError` on unsafe settings.
    """
    configure_logging(settings.log_level)
    verifier = tasks_verifier(settings)
    ports = build_sync_ports(settings)
    healing = HealingPorts(
        sync=ports,
        publisher=PubSubPublisher(
            publisher_client(settings, max_messages=PUBLISH_BATCH),
            settings.require_project(),
            settings.topic,
        ),
        rows=BigQueryRowReader(
            bigquery_client(settings),
            table_id=settings.table_id,
            latest_view_id=settings.latest_view_id,
            timeout=settings.bq_timeout_seconds,
        ),
    )

    def handle(attempt: TaskAttempt) -> TaskReply:
        return handle_retry(attempt, ports, max_retries=settings.max_retries)

    return TaskEndpoint(
        verifier,
        settings.bq_table,
        handle,
        jobs={
            "redrive": lambda: redrive(healing).as_json(),
            "reconcile": lambda: reconcile_recent(healing).as_json(),
        },
    )
