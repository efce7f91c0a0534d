"""Composition root of the operator commands: settings -> the adapters they use."""

from __future__ import annotations

from dataclasses import dataclass

from shared.gcp.bigquery_reader import BigQueryRowReader
from shared.gcp.clients import bigquery_client, firestore_client, publisher_client
from shared.gcp.firestore_failures import FirestoreFailureStore
from shared.gcp.firestore_sessions import FirestoreSessionStore
from shared.gcp.pubsub_publisher import PubSubPublisher
from shared.ports import FailureStore, Publisher, RowReader, SessionStore
from shared.pseudonym import Pseudonymizer
from shared.settings import Settings

# Messages per Pub/Sub publish request: the API's maximum, for bulk replays.
PUBLISH_BATCH_MESSAGES = 1000
# Reads scan the whole table or view: allow longer than the workers' insert deadline.
QUERY_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class OperatorPorts:
    """What the operator commands use; tests build it from fakes."""

    sessions: SessionStore
    failures: FailureStore
    publisher: Publisher
    rows: RowReader
    pseudonymizer: Pseudonymizer
    topic: str  # `projects/P/topics/T`, for prompts and summaries


def build_operator_ports(settings: Settings) -> OperatorPorts:
    """Real adapters for the local emulators or GCP (application-default credentials).

    Clients are created here but connect lazily. Raises `ConfigError` when the
    project or salt is missing or unsafe.
    """
    project = settings.require_project()
    pseudonymizer = Pseudonymizer.from_settings(settings)
    firestore = firestore_client(settings)
    publisher = PubSubPublisher(
        publisher_client(settings, max_messages=PUBLISH_BATCH_MESSAGES), project, settings.topic
    )
    return OperatorPorts(
        sessions=FirestoreSessionStore(firestore),
        failures=FirestoreFailureStore(firestore),
        publisher=publisher,
        rows=BigQueryRowReader(
            bigquery_client(settings),
            table_id=settings.table_id,
            latest_view_id=settings.latest_view_id,
            timeout=max(settings.bq_timeout_seconds, QUERY_TIMEOUT_SECONDS),
        ),
        pseudonymizer=pseudonymizer,
        topic=publisher.topic_path,
    )
