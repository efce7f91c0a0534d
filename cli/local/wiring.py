"""Connect the local app servers to the emulators, as Eventarc and Pub/Sub push do on GCP.

Run after every start: the Firestore emulator forgets its triggers when it restarts.
"""

from __future__ import annotations

import json
import urllib.request

from google.api_core import exceptions
from google.protobuf import duration_pb2

from cli.local.errors import StackError
from cli.local.net import HOST
from cli.local.provision import TIMEOUT_SECONDS
from shared.gcp.clients import subscriber_client
from shared.gcp.pubsub_dead_letters import HOLD_SUFFIX
from shared.settings import Settings

TRIGGER_ID = "on-session-written"
SESSION_PATTERN = "users/{userId}/sessions/{sessionId}"
# Local push delivery: shorter backoff than production so tests and demos see redelivery
# within seconds; the same ack deadline and dead-letter threshold as terraform's defaults.
ACK_DEADLINE_SECONDS = 60
MIN_BACKOFF_SECONDS = 1
MAX_BACKOFF_SECONDS = 10
MAX_DELIVERY_ATTEMPTS = 10


def wire_pipeline(settings: Settings) -> None:
    """Register the Firestore trigger and create the push and dead-letter subscriptions.

    Idempotent. Raises `StackError` naming what an emulator refused.
    """
    register_trigger(settings)
    create_subscriptions(settings)


def register_trigger(settings: Settings) -> None:
    """Ask the Firestore emulator to deliver `document.v1.written` events to the trigger."""
    url = (
        f"http://{settings.firestore_emulator_host}/emulator/v1/projects/{settings.project}"
        f"/eventarcTrigger?eventarcTriggerId={TRIGGER_ID}"
    )
    body = {
        "eventType": "google.cloud.firestore.document.v1.written",
        "database": "(default)",
        "namespace": "(default)",
        "document": {"value": SESSION_PATTERN, "matchType": "PATH_PATTERN"},
    }
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            response.read()
    except OSError as error:
        raise StackError(f"Firestore emulator refused the trigger registration: {error}") from error


def push_endpoint(settings: Settings) -> str:
    """Where the push subscription delivers: the local sync worker."""
    return f"http://{HOST}:{settings.local_ports['LOCAL_SYNC_WORKER_PORT']}/"


def set_push(settings: Settings, *, push: bool) -> None:
    """Point the push subscription at the sync worker again, or turn it into a pull one."""
    with subscriber_client(settings) as subscriber:
        name = subscriber.subscription_path(settings.project, settings.push_subscription)
        config = {"push_endpoint": push_endpoint(settings)} if push else {}
        subscriber.modify_push_config(
            request={"subscription": name, "push_config": config}, timeout=TIMEOUT_SECONDS
        )


def create_subscriptions(settings: Settings) -> None:
    """The push subscription to the sync worker and a hold subscription for dead letters."""
    project = settings.project
    sync_worker = push_endpoint(settings)
    with subscriber_client(settings) as subscriber:
        topic = f"projects/{project}/topics/{settings.topic}"
        dead_letter_topic = f"projects/{project}/topics/{settings.dead_letter_topic}"
        push = {
            "name": subscriber.subscription_path(project, settings.push_subscription),
            "topic": topic,
            "push_config": {"push_endpoint": sync_worker},
            "ack_deadline_seconds": ACK_DEADLINE_SECONDS,
            "retry_policy": {
                "minimum_backoff": duration_pb2.Duration(seconds=MIN_BACKOFF_SECONDS),
                "maximum_backoff": duration_pb2.Duration(seconds=MAX_BACKOFF_SECONDS),
            },
            "dead_letter_policy": {
                "dead_letter_topic": dead_letter_topic,
                "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS,
            },
        }
        hold = {
            "name": subscriber.subscription_path(
                project, f"{settings.dead_letter_topic}{HOLD_SUFFIX}"
            ),
            "topic": dead_letter_topic,
        }
        for request in (push, hold):
            try:
                subscriber.create_subscription(request=request, timeout=TIMEOUT_SECONDS)
            except exceptions.AlreadyExists:
                pass
            except exceptions.GoogleAPICallError as error:
                raise StackError(f"Pub/Sub emulator refused {request['name']}: {error}") from error
