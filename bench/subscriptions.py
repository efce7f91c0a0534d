"""A throwaway Pub/Sub topic and pull subscription for one benchmark run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from shared.gcp.clients import publisher_client, subscriber_client
from shared.settings import Settings


@contextmanager
def fresh_subscription(settings: Settings, prefix: str) -> Iterator[str]:
    """A topic and pull subscription of one fresh name, deleted afterwards.

    A streaming pull re-opened on an emulator subscription can stall, so no run reuses one.
    """
    publisher, subscriber = publisher_client(settings), subscriber_client(settings)
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    topic = publisher.topic_path(settings.project, name)
    subscription = subscriber.subscription_path(settings.project, name)
    publisher.create_topic(name=topic)
    subscriber.create_subscription(
        request={"name": subscription, "topic": topic, "ack_deadline_seconds": 60}
    )
    try:
        yield name
    finally:
        subscriber.delete_subscription(request={"subscription": subscription})
        publisher.delete_topic(request={"topic": topic})
