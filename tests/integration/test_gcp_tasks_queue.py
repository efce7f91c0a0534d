"""`CloudTasksRetryQueue` against gcloud-tasks-emulator, plus a scripted Cloud Tasks gRPC server.

What the emulator really does (checked below): it accepts a second task with
the name of a queued one and keeps both (no ALREADY_EXISTS, no dedupe); it
dispatches a task about 0.1 s after creation while the queue runs, to the
task's URL, with the `X-CloudTasks-*` headers but no `Authorization` header even
when the task asks for an OIDC token; it deletes a task once its URL answered
2xx; and `GetTask` answers UNIMPLEMENTED, so tasks are inspected with
`ListTasks`. ALREADY_EXISTS, the answer of real Cloud Tasks to a duplicate
name, comes from a scripted gRPC server speaking the Cloud Tasks API instead.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2

from cli.local.stack import LocalStack
from shared.errors import PermanentError, TransientError
from shared.gcp import clients
from shared.gcp.tasks_queue import DISPATCH_DEADLINE_SECONDS, CloudTasksRetryQueue
from shared.model import RetryTask, episode_id
from shared.settings import Settings

pytestmark = pytest.mark.integration

QUEUE = "projects/p/locations/l/queues/q"
SERVICE_ACCOUNT = "tasks-invoker@p.iam.gserviceaccount.com"


class Receiver:
    """A local HTTP server standing in for the retry worker: records each POST, answers 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                owner.requests.append((self.path, headers, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/tasks/retry"

    def wait_for(self, count: int, seconds: float = 5) -> None:
        deadline = time.monotonic() + seconds
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _task(event_id: str = "ev-1") -> RetryTask:
    return RetryTask("u1", "s1", event_id, "sessions", "replay")


def test_task_request_without_a_service_account_has_no_oidc_token() -> None:
    queue = CloudTasksRetryQueue(object(), QUEUE, target_url="http://worker/")

    request = queue.task_request(_task())

    assert request == {
        "name": f"{QUEUE}/tasks/{episode_id('ev-1')}",
        "http_request": {
            "http_method": "POST",
            "url": "http://worker/",
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(_task().body()).encode(),
        },
        "dispatch_deadline": {"seconds": DISPATCH_DEADLINE_SECONDS},
    }
    assert json.loads(request["http_request"]["body"]) == {
        "user_id": "u1",
        "session_id": "s1",
        "event_id": "ev-1",
        "table": "sessions",
        "origin": "replay",
    }
    tasks_v2.Task(request)  # a valid Cloud Tasks `Task`


def test_task_request_with_a_service_account_asks_for_an_oidc_token() -> None:
    default_audience = CloudTasksRetryQueue(
        object(), QUEUE, target_url="https://worker/", service_account=SERVICE_ACCOUNT
    )
    own_audience = CloudTasksRetryQueue(
        object(),
        QUEUE,
        target_url="https://worker/",
        service_account=SERVICE_ACCOUNT,
        audience="https://audience",
    )

    assert default_audience.task_request(_task())["http_request"]["oidc_token"] == {
        "service_account_email": SERVICE_ACCOUNT,
        "audience": "https://worker/",
    }
    assert own_audience.task_request(_task())["http_request"]["oidc_token"] == {
        "service_account_email": SERVICE_ACCOUNT,
        "audience": "https://audience",
    }


@pytest.fixture
def tasks(local_stack: LocalStack, local_settings: Settings) -> Iterator[tasks_v2.CloudTasksClient]:
    with clients.tasks_client(local_settings) as client:
        yield client


def _listed(client: tasks_v2.CloudTasksClient, queue: str, name: str) -> list[tasks_v2.Task]:
    request = {"parent": queue, "response_view": tasks_v2.Task.View.FULL}
    return [task for task in client.list_tasks(request=request, timeout=10) if task.name == name]


def test_enqueue_creates_the_named_task_that_the_emulator_dispatches(
    tasks: tasks_v2.CloudTasksClient, local_settings: Settings
) -> None:
    queue = clients.queue_path(local_settings)
    task = _task(f"ev-{uuid.uuid4().hex}")
    name = f"{queue}/tasks/{task.name}"
    with Receiver() as receiver:
        retry_queue = CloudTasksRetryQueue(
            tasks, queue, target_url=receiver.url, service_account=SERVICE_ACCOUNT, timeout=5
        )
        tasks.pause_queue(name=queue, timeout=10)
        try:
            retry_queue.enqueue(task)
            [created] = _listed(tasks, queue, name)
            retry_queue.enqueue(task)  # the emulator accepts the duplicate name
            assert len(_listed(tasks, queue, name)) == 2
        finally:
            tasks.resume_queue(name=queue, timeout=10)
        receiver.wait_for(2)

    assert created.http_request.url == receiver.url
    assert created.http_request.http_method == tasks_v2.HttpMethod.POST
    assert json.loads(created.http_request.body) == task.body()
    assert created.http_request.headers["Content-Type"] == "application/json"
    assert created.http_request.oidc_token.service_account_email == SERVICE_ACCOUNT
    assert created.http_request.oidc_token.audience == receiver.url
    assert created.dispatch_deadline.total_seconds() == DISPATCH_DEADLINE_SECONDS
    assert len(receiver.requests) == 2  # both copies were dispatched
    for path, headers, body in receiver.requests:
        assert path == "/tasks/retry"
        assert json.loads(body) == task.body()
        assert headers["x-cloudtasks-taskname"] == task.name
        assert headers["x-cloudtasks-queuename"] == queue
        assert headers["x-cloudtasks-taskretrycount"] == "0"
        assert "authorization" not in headers  # the emulator sends no OIDC token
    deadline = time.monotonic() + 5
    while _listed(tasks, queue, name) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _listed(tasks, queue, name) == []  # deleted after the 2xx
    with pytest.raises(exceptions.MethodNotImplemented):
        tasks.get_task(name=name, timeout=10)


class ScriptedCloudTasks:
    """A gRPC server answering CreateTask with `reply(request)`: a Task or a status code."""

    def __init__(
        self, reply: Callable[[tasks_v2.CreateTaskRequest], tasks_v2.Task | grpc.StatusCode]
    ) -> None:
        self.requests: list[tasks_v2.CreateTaskRequest] = []

        def create_task(request: tasks_v2.CreateTaskRequest, context: grpc.ServicerContext) -> Any:
            self.requests.append(request)
            answer = reply(request)
            if isinstance(answer, grpc.StatusCode):
                context.abort(answer, f"scripted {answer.name}")
            return answer

        handler = grpc.method_handlers_generic_handler(
            "google.cloud.tasks.v2.CloudTasks",
            {
                "CreateTask": grpc.unary_unary_rpc_method_handler(
                    create_task,
                    request_deserializer=tasks_v2.CreateTaskRequest.deserialize,
                    response_serializer=tasks_v2.Task.serialize,
                )
            },
        )
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self._server.add_generic_rpc_handlers((handler,))
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    def __enter__(self) -> ScriptedCloudTasks:
        self._server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.stop(grace=None)


def _queue_at(settings: Settings, port: int) -> CloudTasksRetryQueue:
    scripted = dataclasses.replace(settings, tasks_emulator_host=f"127.0.0.1:{port}")
    client = clients.tasks_client(scripted)
    return CloudTasksRetryQueue(client, QUEUE, target_url="http://worker/", timeout=2)


def test_already_exists_counts_as_success(local_settings: Settings) -> None:
    with ScriptedCloudTasks(lambda request: grpc.StatusCode.ALREADY_EXISTS) as server:
        _queue_at(local_settings, server.port).enqueue(_task())

    [request] = server.requests
    assert request.parent == QUEUE
    assert request.task.name == f"{QUEUE}/tasks/{episode_id('ev-1')}"


def test_a_created_task_returns_after_one_call(local_settings: Settings) -> None:
    with ScriptedCloudTasks(lambda request: request.task) as server:
        _queue_at(local_settings, server.port).enqueue(_task())

    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("code", "error", "attempts"),
    [
        (grpc.StatusCode.UNAVAILABLE, TransientError, 3),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, TransientError, 3),
        (grpc.StatusCode.NOT_FOUND, TransientError, 3),  # queue not created yet
        (grpc.StatusCode.INVALID_ARGUMENT, PermanentError, 1),
    ],
)
def test_create_task_failures_are_classified(
    code: grpc.StatusCode, error: type[Exception], attempts: int, local_settings: Settings
) -> None:
    with (
        ScriptedCloudTasks(lambda request: code) as server,
        pytest.raises(error, match=r"^enqueue retry task: ") as raised,
    ):
        _queue_at(local_settings, server.port).enqueue(_task())

    assert not isinstance(raised.value, exceptions.GoogleAPIError)
    assert len(server.requests) == attempts
