"""Drive the whole local pipeline: write sessions to Firestore, watch BigQuery and the records."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from google.api_core import exceptions
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from cli.local.faults import FaultControl
from cli.local.stack import LocalStack
from cli.sample_data import completed, generate_sessions
from shared.gcp.clients import bigquery_client, firestore_client, subscriber_client
from shared.gcp.firestore_failures import COLLECTION, STATE_COLLECTION, STATE_DOCUMENT
from shared.healing_policy import HealingPolicy
from shared.model import SessionKey
from shared.pseudonym import Pseudonymizer

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], *, timeout: float = 30.0, what: str = "") -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or probe}")
        time.sleep(0.1)


class Pipeline:
    """The running local stack seen from outside, through the official clients."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.settings = stack.settings
        self.firestore: firestore.Client = firestore_client(self.settings)
        self.bigquery = bigquery_client(self.settings)
        self.faults = FaultControl(self.settings)
        self.pseudonymizer = Pseudonymizer.from_settings(self.settings)

    def new_session(
        self, *, seed: int | None = None, start_time: datetime | None = None
    ) -> tuple[SessionKey, dict[str, Any]]:
        """A generated active session written to Firestore (started at `start_time` if given)."""
        window = {"start": start_time, "spread": timedelta(seconds=1)} if start_time else {}
        generated = next(generate_sessions(1, seed=seed or uuid.uuid4().int % 10**6, **window))
        key = SessionKey(generated.user_id, generated.session_id)
        self.document(key).set(generated.document)
        return key, generated.document

    def complete(self, key: SessionKey, document: dict[str, Any]) -> dict[str, Any]:
        finished = completed(document)
        self.document(key).set(finished)
        return finished

    def recent_start(self) -> datetime:
        """A start time inside the scheduled reconcile's window (compressed like all time)."""
        return (
            datetime.now(UTC)
            - HealingPolicy(time_scale=self.settings.time_scale).reconcile_window / 4
        )

    def redrive_state(self) -> dict[str, Any]:
        """The redrive's memory between rounds, as stored."""
        document = self.firestore.collection(STATE_COLLECTION).document(STATE_DOCUMENT).get()
        return document.to_dict() or {}

    def document(self, key: SessionKey) -> firestore.DocumentReference:
        return self.firestore.document(key.path)

    def data(self, key: SessionKey) -> dict[str, Any]:
        return self.document(key).get().to_dict() or {}

    def wait_status(self, key: SessionKey, *statuses: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the session's `bigquerySyncStatus` is one of `statuses`."""
        return wait_for(
            lambda: (d := self.data(key)).get("bigquerySyncStatus") in statuses and d,
            timeout=timeout,
            what=f"{key} to become {'/'.join(statuses)}",
        )

    def rows(self, key: SessionKey, *, view: bool = False) -> list[dict[str, Any]]:
        table = self.settings.latest_view_id if view else self.settings.table_id
        query = (
            f"SELECT * FROM `{table}` WHERE session_id = @session AND user_id_hash = @user"
            " ORDER BY synced_at"
        )
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter("session", "STRING", key.session_id),
                bigquery.ScalarQueryParameter(
                    "user", "STRING", self.pseudonymizer.user_id_hash(key.user_id)
                ),
            ]
        )
        return [dict(row) for row in self.bigquery.query(query, job_config=config).result()]

    def failure_records(self, key: SessionKey) -> list[dict[str, Any]]:
        query = self.firestore.collection(COLLECTION).where(
            filter=FieldFilter("sessionKey", "==", str(key))
        )
        return [{"id": doc.id, **(doc.to_dict() or {})} for doc in query.stream()]

    @contextmanager
    def spy(self) -> Iterator[Callable[[float], list[Any]]]:
        """A temporary pull subscription on the live topic; yields `drain(seconds)`."""
        subscriber = subscriber_client(self.settings)
        project = self.settings.project
        name = subscriber.subscription_path(project, f"spy-{uuid.uuid4().hex[:8]}")
        topic = f"projects/{project}/topics/{self.settings.topic}"
        subscriber.create_subscription(request={"name": name, "topic": topic})

        def drain(seconds: float) -> list[Any]:
            messages: list[Any] = []
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    response = subscriber.pull(
                        request={"subscription": name, "max_messages": 100}, timeout=1
                    )
                except exceptions.DeadlineExceeded:
                    continue
                if response.received_messages:
                    subscriber.acknowledge(
                        request={
                            "subscription": name,
                            "ack_ids": [m.ack_id for m in response.received_messages],
                        }
                    )
                    messages.extend(m.message for m in response.received_messages)
                else:
                    time.sleep(0.2)
            return messages

        try:
            yield drain
        finally:
            subscriber.delete_subscription(request={"subscription": name})
