"""Composition root of the trigger: settings -> publisher -> CloudEvent handler."""

from __future__ import annotations

from typing import Any

from shared.gcp.clients import publisher_client
from shared.gcp.pubsub_publisher import PubSubPublisher
from shared.logging import configure_logging
from shared.ports import Publisher
from shared.settings import Settings
from trigger.handler import handle_session_written


class Trigger:
    """The `on_session_written` function: one CloudEvent in, at most one message out."""

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher

    def __call__(self, cloud_event: Any) -> None:
        handle_session_written(cloud_event["id"], cloud_event.data, self._publisher)


def build_trigger(settings: Settings) -> Trigger:
    """Construct the trigger from settings (raises `ConfigError` on a bad setting)."""
    configure_logging(settings.log_level)
    client = publisher_client(settings, max_messages=1)
    return Trigger(PubSubPublisher(client, settings.require_project(), settings.topic))
