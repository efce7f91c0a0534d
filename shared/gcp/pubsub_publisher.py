"""`Publisher` over Pub/Sub: batched publish of `SessionCompleted` messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.contract import SessionCompleted
from shared.gcp.errors import translated


class PubSubPublisher:
    """Publishes to one topic and waits for every future before returning."""

    def __init__(self, client: Any, project: str, topic: str, *, timeout: float = 30.0) -> None:
        self._client = client
        self._topic_path = client.topic_path(project, topic)
        self._timeout = timeout

    @property
    def topic_path(self) -> str:
        return str(self._topic_path)

    def publish(self, messages: Sequence[SessionCompleted]) -> list[str]:
        """Publish all messages (the client batches them); return their ids in order.

        Raises `TransientError` if any publish fails or times out; the messages
        that did go out stay published, and consumers dedupe by event id.
        """
        with translated("publish"):
            futures = []
            for message in messages:
                data, attributes = message.encode()
                futures.append(self._client.publish(self._topic_path, data, **attributes))
            return [str(future.result(timeout=self._timeout)) for future in futures]
