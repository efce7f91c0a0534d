"""Composition root of the trigger: settings and a publisher -> the CloudEvent handler."""

from __future__ import annotations

from typing import Any

from shared.ports import Publisher
from shared.settings import Settings
from trigger.handler import handle_session_written


class Trigger:
    """The `on_session_written` function: one CloudEvent in, at most one message out."""

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher

    def __call__(self, cloud_event: Any) -> None:
        handle_session_written(cloud_event["id"], cloud_event.data, self._publisher)


def build_trigger(settings: Settings, *, publisher: Publisher | None = None) -> Trigger:
    """The trigger; publishes to the settings' topic unless `publisher` is given (tests).

    Raises `ConfigError` on a bad setting.
    """
    if publisher is None:
        from shared.bootstrap import build_publisher

        publisher = build_publisher(settings, batch=1)  # one event, one message: no waiting
    return Trigger(publisher)
