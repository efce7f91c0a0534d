"""`RetryQueue` over Cloud Tasks: named HTTP tasks to the retry worker, with OIDC."""

from __future__ import annotations

import json
from typing import Any

from google.api_core import exceptions as gexc

from shared.gcp.errors import briefly_retried, translated
from shared.model import Enqueued, RetryTask

DEFAULT_DISPATCH_DEADLINE_SECONDS = 120


class CloudTasksRetryQueue:
    """Creates one task per attempt series; the task name dedupes redeliveries.

    Cloud Tasks keeps a task's name taken for a while after the task ended
    (ALREADY_EXISTS with no task behind it): `enqueue` tells that apart from
    a live task, so the caller can start a new series under a new name.
    """

    def __init__(
        self,
        client: Any,
        queue_path: str,
        *,
        target_url: str,
        service_account: str = "",
        audience: str = "",
        dispatch_deadline_seconds: int = DEFAULT_DISPATCH_DEADLINE_SECONDS,
        timeout: float = 10.0,
    ) -> None:
        self._client = client
        self._queue_path = queue_path
        self._target_url = target_url
        self._service_account = service_account
        self._audience = audience or target_url
        self._dispatch_deadline = dispatch_deadline_seconds
        self._timeout = timeout

    def task_request(self, task: RetryTask) -> dict[str, Any]:
        """The Cloud Tasks `Task` for a retry, as a dict (OIDC when a service account is set)."""
        http_request: dict[str, Any] = {
            "http_method": "POST",
            "url": self._target_url,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(task.body()).encode("utf-8"),
        }
        if self._service_account:
            http_request["oidc_token"] = {
                "service_account_email": self._service_account,
                "audience": self._audience,
            }
        return {
            "name": self._task_path(task),
            "http_request": http_request,
            "dispatch_deadline": {"seconds": self._dispatch_deadline},
        }

    @briefly_retried
    def enqueue(self, task: RetryTask) -> Enqueued:
        """Create the task; for a taken name, say whether a live task holds it. Idempotent."""
        with translated("enqueue retry task"):
            try:
                self._client.create_task(
                    parent=self._queue_path,
                    task=self.task_request(task),
                    retry=None,
                    timeout=self._timeout,
                )
            except gexc.AlreadyExists:
                try:
                    self._client.get_task(
                        name=self._task_path(task), retry=None, timeout=self._timeout
                    )
                except gexc.NotFound:
                    return Enqueued.TOMBSTONED
                return Enqueued.EXISTS
        return Enqueued.CREATED

    def _task_path(self, task: RetryTask) -> str:
        return f"{self._queue_path}/tasks/{task.name}"
