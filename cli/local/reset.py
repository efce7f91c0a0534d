"""Empty the emulators' data while every service keeps running."""

from __future__ import annotations

import time

from google.api_core import exceptions
from google.protobuf import timestamp_pb2

from cli.local.errors import StackError
from cli.local.net import http_status
from cli.local.provision import TIMEOUT_SECONDS, topic_paths
from shared.gcp.clients import (
    bigquery_client,
    publisher_client,
    queue_path,
    subscriber_client,
    tasks_client,
)
from shared.settings import Settings


def reset(settings: Settings) -> None:
    """Delete Firestore documents, table rows, topic backlogs and queued tasks; idempotent.

    Resources (topics, subscriptions, dataset, table, view, queue) stay.
    Raises `StackError` naming the emulator that refused.
    """
    _firestore(settings)
    _bigquery(settings)
    _pubsub(settings)
    _tasks(settings)


def _firestore(settings: Settings) -> None:
    url = (
        f"http://{settings.firestore_emulator_host}/emulator/v1/projects/{settings.project}"
        "/databases/(default)/documents"
    )
    status = http_status("DELETE", url, timeout=TIMEOUT_SECONDS)
    if status != 200:
        raise StackError(
            f"Firestore emulator did not clear its documents: DELETE {url} -> {status}"
        )


def _bigquery(settings: Settings) -> None:
    with bigquery_client(settings) as client:
        try:
            client.query(f"DELETE FROM `{settings.table_id}` WHERE TRUE").result(
                timeout=TIMEOUT_SECONDS
            )
        except exceptions.GoogleAPICallError as error:
            raise StackError(f"BigQuery emulator did not delete the rows: {error}") from error


def _pubsub(settings: Settings) -> None:
    """Seek each subscription of the pipeline's topics to now: earlier messages count as acked."""
    now = timestamp_pb2.Timestamp()
    now.GetCurrentTime()
    with publisher_client(settings) as publisher, subscriber_client(settings) as subscriber:
        for topic in topic_paths(settings):
            try:
                for subscription in publisher.list_topic_subscriptions(
                    topic=topic, timeout=TIMEOUT_SECONDS
                ):
                    subscriber.seek(
                        request={"subscription": subscription, "time": now}, timeout=TIMEOUT_SECONDS
                    )
            except exceptions.GoogleAPICallError as error:
                raise StackError(
                    f"Pub/Sub emulator did not drop the backlog of {topic}: {error}"
                ) from error


def _tasks(settings: Settings) -> None:
    """Purge the retry queue while paused, until no dispatch in flight puts a task back."""
    name = queue_path(settings)
    with tasks_client(settings) as client:
        try:
            client.pause_queue(name=name, timeout=TIMEOUT_SECONDS)
            try:
                deadline = time.monotonic() + TIMEOUT_SECONDS
                while True:
                    client.purge_queue(name=name, timeout=TIMEOUT_SECONDS)
                    # Longer than the emulator's 0.1 s dispatch loop.
                    time.sleep(0.3)
                    if not list(client.list_tasks(parent=name, timeout=TIMEOUT_SECONDS)):
                        break
                    if time.monotonic() > deadline:
                        raise StackError(f"Cloud Tasks emulator keeps tasks in {name} after purges")
            finally:
                client.resume_queue(name=name, timeout=TIMEOUT_SECONDS)
        except exceptions.GoogleAPICallError as error:
            raise StackError(f"Cloud Tasks emulator did not purge {name}: {error}") from error
