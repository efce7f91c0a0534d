"""Build the sync use case's ports from settings (used by both workers' bootstraps)."""

from __future__ import annotations

from shared.gcp.bigquery_sink import BigQueryRowSink
from shared.gcp.clients import bigquery_client, firestore_client
from shared.gcp.firestore_failures import FirestoreFailureStore
from shared.gcp.firestore_sessions import FirestoreSessionStore
from shared.healing_policy import healing_policy
from shared.pseudonym import Pseudonymizer
from shared.settings import Settings
from shared.sync import SyncPorts


def build_sync_ports(settings: Settings) -> SyncPorts:
    """Firestore stores, the BigQuery sink and the pseudonymizer.

    Raises `ConfigError` when the salt or project is missing or unsafe.
    """
    pseudonymizer = Pseudonymizer.from_settings(settings)
    table_id = settings.table_id
    firestore = firestore_client(settings)
    return SyncPorts(
        sessions=FirestoreSessionStore(firestore),
        failures=FirestoreFailureStore(firestore),
        sink=BigQueryRowSink(
            bigquery_client(settings), table_id, timeout=settings.bq_timeout_seconds
        ),
        pseudonymizer=pseudonymizer,
        table=settings.bq_table,
        policy=healing_policy(
            retention_hours=settings.redrive_retention_hours,
            reconcile_window_hours=settings.reconcile_window_hours,
            time_scale=settings.time_scale,
        ),
    )
