"""`DeadLetterSource` over the dead-letter topic's hold subscription (synchronous pull)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.api_core import exceptions as gexc

from shared.gcp.errors import briefly_retried, translated
from shared.ports import DeadLetter

HOLD_SUFFIX = "-hold"  # terraform and the local stack name the subscription `<topic>-hold`
MAX_IDS_PER_CALL = 1000


class PubSubDeadLetters:
    """Leases, acknowledges and releases messages of one pull subscription."""

    def __init__(
        self, client: Any, subscription_path: str, *, wait: float = 2.0, timeout: float = 10.0
    ) -> None:
        self._client = client
        self._subscription = subscription_path
        self._wait = wait
        self._timeout = timeout

    @property
    def subscription_path(self) -> str:
        return self._subscription

    @briefly_retried
    def pull(self, max_messages: int) -> list[DeadLetter]:
        """One synchronous pull waiting at most `wait` seconds; nothing to hand out returns []."""
        with translated("pull dead letters"):
            try:
                response = self._client.pull(
                    request={"subscription": self._subscription, "max_messages": max_messages},
                    retry=None,
                    timeout=self._wait,
                )
            except gexc.DeadlineExceeded:
                return []
        return [
            DeadLetter(
                received.ack_id,
                received.message.message_id,
                bytes(received.message.data),
                dict(received.message.attributes),
            )
            for received in response.received_messages
        ]

    def ack(self, ack_ids: Sequence[str]) -> None:
        """Acknowledge in requests of at most 1000 ids. Idempotent."""
        for start in range(0, len(ack_ids), MAX_IDS_PER_CALL):
            self._acknowledge(list(ack_ids[start : start + MAX_IDS_PER_CALL]))

    def release(self, ack_ids: Sequence[str]) -> None:
        """Set the ack deadline to 0, so the messages are held (and deliverable) again."""
        for start in range(0, len(ack_ids), MAX_IDS_PER_CALL):
            self._modify(list(ack_ids[start : start + MAX_IDS_PER_CALL]))

    @briefly_retried
    def _acknowledge(self, ack_ids: list[str]) -> None:
        with translated("acknowledge dead letters"):
            self._client.acknowledge(
                request={"subscription": self._subscription, "ack_ids": ack_ids},
                retry=None,
                timeout=self._timeout,
            )

    @briefly_retried
    def _modify(self, ack_ids: list[str]) -> None:
        with translated("release dead letters"):
            self._client.modify_ack_deadline(
                request={
                    "subscription": self._subscription,
                    "ack_ids": ack_ids,
                    "ack_deadline_seconds": 0,
                },
                retry=None,
                timeout=self._timeout,
            )
