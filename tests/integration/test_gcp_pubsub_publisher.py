"""`PubSubPublisher` against the Pub/Sub emulator, checked by pulling what it published.

The tests publish to a topic of their own: the pipeline's topic has the sync
worker's push subscription, which would act on these messages.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from google.api_core import exceptions
from google.cloud import pubsub_v1

from cli.local.stack import LocalStack
from shared.contract import SessionCompleted, decode
from shared.errors import TransientError
from shared.gcp import clients
from shared.gcp.pubsub_publisher import PubSubPublisher
from shared.settings import Settings

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Topic:
    name: str
    subscription: str
    publisher: pubsub_v1.PublisherClient
    subscriber: pubsub_v1.SubscriberClient


@pytest.fixture
def topic(local_stack: LocalStack, local_settings: Settings) -> Iterator[Topic]:
    """A fresh topic with one pull subscription; a publisher that batches 10 messages."""
    name = f"adapters-{uuid.uuid4().hex[:12]}"
    project = local_settings.project
    with (
        clients.publisher_client(local_settings, max_messages=10) as publisher,
        clients.subscriber_client(local_settings) as subscriber,
    ):
        topic_path = publisher.topic_path(project, name)
        subscription = subscriber.subscription_path(project, name)
        publisher.create_topic(name=topic_path, timeout=10)
        subscriber.create_subscription(name=subscription, topic=topic_path, timeout=10)
        try:
            yield Topic(name, subscription, publisher, subscriber)
        finally:
            subscriber.delete_subscription(subscription=subscription, timeout=10)
            publisher.delete_topic(topic=topic_path, timeout=10)


def _pull_all(topic: Topic, count: int) -> dict[str, pubsub_v1.types.PubsubMessage]:
    """Pull and acknowledge until `count` messages arrived (or 10 s passed), by message id."""
    received: dict[str, pubsub_v1.types.PubsubMessage] = {}
    deadline = time.monotonic() + 10
    while len(received) < count and time.monotonic() < deadline:
        try:
            response = topic.subscriber.pull(
                subscription=topic.subscription, max_messages=100, timeout=5
            )
        except exceptions.DeadlineExceeded:
            continue
        for item in response.received_messages:
            received[item.message.message_id] = item.message
        if response.received_messages:
            topic.subscriber.acknowledge(
                subscription=topic.subscription,
                ack_ids=[item.ack_id for item in response.received_messages],
            )
    return received


def test_publish_returns_the_message_ids_in_order(topic: Topic, local_settings: Settings) -> None:
    publisher = PubSubPublisher(topic.publisher, local_settings.project, topic.name, timeout=10)
    messages = [
        SessionCompleted(f"user-{n % 3}", f"s{n}", f"ev-{n}", "backfill" if n % 2 else "trigger")
        for n in range(25)  # three client-side batches of at most 10
    ]

    ids = publisher.publish(messages)

    assert publisher.topic_path == f"projects/{local_settings.project}/topics/{topic.name}"
    assert len(ids) == len(set(ids)) == 25
    pulled = _pull_all(topic, 25)
    assert set(pulled) == set(ids)
    for message_id, message in zip(ids, messages, strict=True):
        data, attributes = message.encode()
        assert pulled[message_id].data == data
        assert dict(pulled[message_id].attributes) == attributes
        assert decode(pulled[message_id].data, pulled[message_id].attributes) == message


def test_publish_of_nothing_sends_nothing(topic: Topic, local_settings: Settings) -> None:
    publisher = PubSubPublisher(topic.publisher, local_settings.project, topic.name)

    assert publisher.publish([]) == []


def test_publish_to_a_missing_topic_is_a_transient_error(
    topic: Topic, local_settings: Settings
) -> None:
    publisher = PubSubPublisher(topic.publisher, local_settings.project, "no-such-topic", timeout=5)

    with pytest.raises(TransientError, match=r"^publish: NotFound: 404 Topic not found"):
        publisher.publish([SessionCompleted("u1", "s1", "ev-1")])
