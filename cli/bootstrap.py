"""Composition root of the operator commands: settings -> the adapters they use."""

from __future__ import annotations

from dataclasses import dataclass

from cli.preflight import require_local_stack
from shared.bootstrap import build_publisher, build_row_reader
from shared.gcp.clients import firestore_client, subscriber_client
from shared.gcp.firestore_failures import FirestoreFailureStore
from shared.gcp.firestore_sessions import FirestoreSessionStore
from shared.gcp.pubsub_dead_letters import HOLD_SUFFIX, PubSubDeadLetters
from shared.ports import DeadLetterSource, FailureStore, Publisher, RowReader, SessionStore
from shared.pseudonym import Pseudonymizer
from shared.settings import Settings

# Documents per Firestore page in full scans: a few MB per page, and a quarter of the
# per-query overhead of the adapter's default 500 (twice as fast on the emulator).
SCAN_PAGE_SIZE = 2000


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
    `ConfigError` when the project, or the salt when needed, is missing or unsafe;
    in local mode, `ActionableError` at once when the emulators do not answer.
    """
    project = settings.require_project()
    require_local_stack(settings)  # a stopped stack: one line naming `local up`, at once
    pseudonymizer = Pseudonymizer.from_settings(settings) if pseudonymize else None
    firestore = firestore_client(settings)
    publisher = build_publisher(settings)
    subscriber = subscriber_client(settings)
    hold = subscriber.subscription_path(project, settings.dead_letter_topic + HOLD_SUFFIX)
    return OperatorPorts(
        sessions=FirestoreSessionStore(firestore),
        failures=FirestoreFailureStore(firestore),
        publisher=publisher,
        rows=build_row_reader(settings),
        dead_letters=PubSubDeadLetters(subscriber, hold),
        pseudonymizer=pseudonymizer,
        topic=publisher.topic_path,
        hold_subscription=hold,
    )
