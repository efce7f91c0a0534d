"""Production ports from settings, for every composition root (workers, CLI, benchmarks).

The bootstraps of `trigger/`, `sync_worker/` and `retry_worker/` take their ports
as arguments and call these for the ones not given; tests pass fakes instead.
"""

from __future__ import annotations

from shared.gcp.bigquery_reader import BigQueryRowReader
from shared.gcp.bigquery_sink import BigQueryRowSink
from shared.gcp.clients import bigquery_client, firestore_client, publisher_client
from shared.gcp.firestore_failures import FirestoreFailureStore
from shared.gcp.firestore_sessions import FirestoreSessionStore
from shared.gcp.pubsub_publisher import PubSubPublisher
from shared.healing import PUBLISH_BATCH, HealingPorts
from shared.healing_policy import healing_policy
from shared.pseudonym import Pseudonymizer
from shared.settings import Settings
from shared.sync import SyncPorts

# Reads scan whole windows of the table or view: allow longer than an insert's deadline.
QUERY_TIMEOUT_SECONDS = 120.0


def build_sync_ports(settings: Settings) -> SyncPorts:
    """Firestore stores, the BigQuery sink, the pseudonymizer and the healing policy.

    Raises `ConfigError` when the salt or project is missing or unsafe.
    """
    pseudonymizer = Pseudonymizer.from_settings(settings)
    firestore = firestore_client(settings)
    return SyncPorts(
        sessions=FirestoreSessionStore(firestore),
        failures=FirestoreFailureStore(firestore),
        sink=BigQueryRowSink(
            bigquery_client(settings), settings.table_id, timeout=settings.bq_timeout_seconds
        ),
        pseudonymizer=pseudonymizer,
        table=settings.bq_table,
        policy=healing_policy(
            retention_hours=settings.redrive_retention_hours,
            reconcile_window_hours=settings.reconcile_window_hours,
            time_scale=settings.time_scale,
        ),
    )


def build_row_reader(settings: Settings) -> BigQueryRowReader:
    """The reader of the `sessions` table and the `sessions_latest` view."""
    return BigQueryRowReader(
        bigquery_client(settings),
        table_id=settings.table_id,
        latest_view_id=settings.latest_view_id,
        timeout=max(settings.bq_timeout_seconds, QUERY_TIMEOUT_SECONDS),
    )


def build_publisher(settings: Settings, *, batch: int = PUBLISH_BATCH) -> PubSubPublisher:
    """A publisher to the main topic, batching up to `batch` messages per request."""
    return PubSubPublisher(
        publisher_client(settings, max_messages=batch), settings.require_project(), settings.topic
    )


def build_healing_ports(settings: Settings) -> HealingPorts:
    """What the redrive and the scheduled reconcile need: sync ports, the topic, the reader."""
    return HealingPorts(
        sync=build_sync_ports(settings),
        publisher=build_publisher(settings),
        rows=build_row_reader(settings),
    )
