"""The retry worker's HTTP endpoint: Cloud Tasks' retries, and the scheduled healing jobs."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, cast

from retry_worker.handler import TaskAttempt, TaskReply
from shared.auth import Verifier
from shared.contract import ORIGINS, Origin, validate_ids
from shared.errors import PermanentError, TransientError
from shared.http import Response, json_reply, reject_unauthenticated
from shared.logging import get_logger
from shared.model import RetryTask

log = get_logger("retry_worker")

Job = Callable[[], Mapping[str, object]]  # a scheduled job: runs once, returns its report


class BadTask(ValueError):
    """The request is not a retry task of ours (answer 400, no side effects)."""


class TaskEndpoint:
    """`retry_worker_task`: POST / runs a task (2xx ends it, 503 asks Cloud Tasks to retry);
    POST /<job> runs a scheduled job (`redrive`, `reconcile`) and answers its report."""

    def __init__(
        self,
        verifier: Verifier,
        table: str,
        handle: Callable[[TaskAttempt], TaskReply],
        jobs: Mapping[str, Job] | None = None,
    ) -> None:
        self._verifier = verifier
        self._table = table
        self._handle = handle
        self._jobs = dict(jobs or {})

    def __call__(self, request: Any) -> Response:
        rejected = reject_unauthenticated(self._verifier, request, "task_rejected")
        if rejected is not None:
            return rejected
        # The last path segment names a job (behind a URL that may keep the function's
        # name in front of it); anything else is a task, which Cloud Tasks posts to the root.
        last = (getattr(request, "path", "") or "").rstrip("/").rsplit("/", 1)[-1]
        if last in self._jobs:
            return self._run_job(last)
        try:
            attempt = parse_task(request.get_data(), request.headers, self._table)
        except BadTask as error:
            log.warning("task_rejected", status=400, reason=str(error))
            return json_reply(400, error=str(error))
        reply = self._handle(attempt)
        return json_reply(reply.status, outcome=reply.outcome)

    def _run_job(self, name: str) -> Response:
        try:
            report = self._jobs[name]()
        except TransientError as error:
            log.error("job_failed", job=name, error=str(error))
            return json_reply(503, error=str(error))
        return json.dumps(report), 200, {"Content-Type": "application/json"}


def parse_task(body: bytes, headers: Mapping[str, str], table: str) -> TaskAttempt:
    """Validate the JSON body and the attempt header; raise `BadTask` naming the problem."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadTask("body is not JSON") from None
    if not isinstance(payload, dict):
        raise BadTask("body is not a JSON object")
    fields = {}
    for name in ("user_id", "session_id", "event_id", "table"):
        value = payload.get(name)
        if not isinstance(value, str) or not value.strip():
            raise BadTask(f"'{name}' must be a non-empty string")
        fields[name] = value
    if fields["table"] != table:
        raise BadTask(f"'table' is {fields['table']!r}, this worker writes {table!r}")
    origin = payload.get("origin", "trigger")
    if origin not in ORIGINS:
        raise BadTask(f"'origin' must be one of {', '.join(ORIGINS)}")
    generation = payload.get("generation", 1)
    if type(generation) is not int or generation < 1:
        raise BadTask("'generation' must be a positive integer")
    try:
        validate_ids(fields["user_id"], fields["session_id"], fields["event_id"])
    except PermanentError as error:
        raise BadTask(str(error)) from None
    retry_count = _header_count(headers, "X-CloudTasks-TaskRetryCount")
    task = RetryTask(
        fields["user_id"],
        fields["session_id"],
        fields["event_id"],
        table,
        cast(Origin, origin),
        generation,
    )
    return TaskAttempt(task, retry_count)


def _header_count(headers: Mapping[str, str], name: str) -> int:
    value = headers.get(name)
    if value is None or not str(value).isdigit():
        raise BadTask(f"header {name} must be a non-negative integer")
    return int(value)
