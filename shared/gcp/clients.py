"""Construct the official Google Cloud clients from settings, local emulators included.

This is the one place that decides whether a client talks to GCP (application
default credentials) or to a local emulator (anonymous, plain HTTP/gRPC).
Imports are local so a component only pays for the clients it uses.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from shared.settings import Settings

if TYPE_CHECKING:
    from google.cloud import bigquery, firestore, tasks_v2
    from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient


_environment_lock = threading.Lock()


@contextmanager
def _emulator_host(name: str, host: str | None) -> Iterator[None]:
    """Show `host` in the variable `name` while a client is constructed, then restore it.

    The Firestore and Pub/Sub clients find their emulator only through these variables,
    read when they are constructed; settings already decided the value. Left in the
    environment, the address would leak into every later client and child process.
    """
    if not host:
        yield
        return
    with _environment_lock:
        previous = os.environ.get(name)
        os.environ[name] = host
        try:
            yield
        finally:
            if previous is None:
                del os.environ[name]
            else:
                os.environ[name] = previous


def firestore_client(settings: Settings) -> firestore.Client:
    """A Firestore client for the configured project (the emulator in local mode)."""
    from google.cloud import firestore

    with _emulator_host("FIRESTORE_EMULATOR_HOST", settings.firestore_emulator_host):
        return firestore.Client(project=settings.project)


def publisher_client(settings: Settings, *, max_messages: int = 100) -> PublisherClient:
    """A Pub/Sub publisher with client-side batching (the emulator in local mode)."""
    from google.cloud.pubsub_v1 import PublisherClient, types

    batching = types.BatchSettings(max_messages=max_messages, max_latency=0.01)
    with _emulator_host("PUBSUB_EMULATOR_HOST", settings.pubsub_emulator_host):
        return PublisherClient(batch_settings=batching)


def subscriber_client(settings: Settings) -> SubscriberClient:
    """A Pub/Sub subscriber (the emulator in local mode)."""
    from google.cloud.pubsub_v1 import SubscriberClient

    with _emulator_host("PUBSUB_EMULATOR_HOST", settings.pubsub_emulator_host):
        return SubscriberClient()


def bigquery_client(settings: Settings, *, endpoint: str | None = None) -> bigquery.Client:
    """A BigQuery client; in local mode anonymous and pointed at the emulator.

    `endpoint` overrides the emulator host, for example to go through the
    local fault-injection proxy.
    """
    from google.cloud import bigquery

    host = endpoint or settings.bigquery_emulator_host
    if host:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=settings.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=f"http://{host}"),
        )
    return bigquery.Client(project=settings.project, location=settings.bq_location)


def tasks_client(settings: Settings) -> tasks_v2.CloudTasksClient:
    """A Cloud Tasks client; in local mode over an insecure channel to the emulator."""
    from google.cloud import tasks_v2

    if settings.tasks_emulator_host:
        import grpc
        from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

        channel = grpc.insecure_channel(settings.tasks_emulator_host)
        return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    return tasks_v2.CloudTasksClient()


def queue_path(settings: Settings) -> str:
    """`projects/P/locations/L/queues/Q` of the retry queue."""
    return (
        f"projects/{settings.require_project()}/locations/{settings.tasks_location}"
        f"/queues/{settings.tasks_queue}"
    )
