"""Composition root of the operator commands: settings -> the adapters they use."""

from __future__ import annotations

from dataclasses import dataclass

from shared.gcp.bigquery_reader import BigQueryRowReader
from shared.gcp.clients import (
    bigquery_client,
    firestore_client,
    publisher_client,
    subscriber_client,
)
from shared.gcp.firestore_failures import FirestoreFailureStore
from shared.gcp.firestore_sessions import FirestoreSessionStore
from shared.gcp.pubsub_dead_letters import HOLD_SUFFIX, PubSubDeadLetters
from shared.gcp.pubsub_publisher import PubSubPublisher
from shared.gcp.sync_ports import build_sync_ports
from shared.healing import HealingPorts
from shared.ports import DeadLetterSource, FailureStore, Publisher, RowReader, SessionStore
from shared.pseudonym import Pseudonymizer
from shared.settings import Settings

# Messages per Pub/Sub publish request: the API's maximum, for bulk replays.
PUBLISH_BATCH_MESSAGES = 1000
# Documents per Firestore page in full scans: a few MB per page, and a quarter of the
# per-query overhead of the adapter's default 500 (twice as fast on the emulator).
SCAN_PAGE_SIZE = 2000
# Reads scan the whole table or view: allow longer than the workers' insert deadline.
QUERY_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class OperatorPorts:
    """What the operator commands use; tests build it from fakes."""

    sessions: SessionStore
    failures: FailureStore
    publisher: Publisher
    rows: RowReader
    dead_letters: DeadLetterSource
    pseudonymizer: Pseudonymizer | None  # only reconcile needs (and loads) the salt
    topic: str  # `projects/P/topics/T`, for prompts and summaries
    hold_subscription: str  # `projects/P/subscriptions/S` of the dead letters


def build_operator_ports(settings: Settings, *, pseudonymize: bool = False) -> OperatorPorts:
    """Real adapters for the local emulators or GCP (application-default credentials).

    Clients are created here but connect lazily. The salt is read only with
    `pseudonymize` (reconcile), so replaying needs no access to it. Raises
    `ConfigError` when the project, or the salt when needed, is missing or unsafe.
    """
    project = settings.require_project()
    pseudonymizer = Pseudonymizer.from_settings(settings) if pseudonymize else None
    firestore = firestore_client(settings)
    publisher = PubSubPublisher(
        publisher_client(settings, max_messages=PUBLISH_BATCH_MESSAGES), project, settings.topic
    )
    subscriber = subscriber_client(settings)
    hold = subscriber.subscription_path(project, settings.dead_letter_topic + HOLD_SUFFIX)
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
        dead_letters=PubSubDeadLetters(subscriber, hold),
        pseudonymizer=pseudonymizer,
        topic=publisher.topic_path,
        hold_subscription=hold,
    )


def build_healing_ports(settings: Settings) -> HealingPorts:
    """What `redrive` needs: the sync ports (with the salt, for the probe) and the topic.

    Raises `ConfigError` when the project or the salt is missing or unsafe.
    """
    ports = build_sync_ports(settings)
    return HealingPorts(
        sync=ports,
        publisher=PubSubPublisher(
            publisher_client(settings, max_messages=PUBLISH_BATCH_MESSAGES),
            settings.require_project(),
            settings.topic,
        ),
        rows=BigQueryRowReader(
            bigquery_client(settings),
            table_id=settings.table_id,
            latest_view_id=settings.latest_view_id,
            timeout=max(settings.bq_timeout_seconds, QUERY_TIMEOUT_SECONDS),
        ),
    )
