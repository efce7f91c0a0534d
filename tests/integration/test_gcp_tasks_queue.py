"""`CloudTasksRetryQueue` against the local Cloud Tasks emulator, plus a scripted gRPC server.

The stack starts gcloud-tasks-emulator through `cli/local/tasks_launcher.py`,
whose dispatcher keeps Cloud Tasks' rules with every duration multiplied by
the stack's `LOCAL_TIME_SCALE`. Checked here on the real emulator: a task name
is taken while its task lives (EXISTS) and after it ended (TOMBSTONED) until
a purge; a failing task is dispatched again after the queue's backoff and
ends after `max_attempts` dispatches; the queue's rate spaces dispatches; and
several dispatches run at once. Each test that needs its own retry config
creates its own queue (deleted afterwards) so the stack's queue keeps the
production policy. Tasks go to a small HTTP server of the test's own.

The emulator sends no `Authorization` header even when a task asks for an
OIDC token. Errors the emulator never returns come from a scripted gRPC
server speaking the Cloud Tasks API.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2

from cli.local.stack import LocalStack
from shared.errors import PermanentError, TransientError
from shared.gcp import clients
from shared.gcp.tasks_queue import DEFAULT_DISPATCH_DEADLINE_SECONDS, CloudTasksRetryQueue
from shared.model import Enqueued, RetryTask, episode_id
from shared.queue_policy import QueuePolicy
from shared.settings import Settings

pytestmark = pytest.mark.integration

QUEUE = "projects/p/locations/l/queues/q"
SERVICE_ACCOUNT = "tasks-invoker@p.iam.gserviceaccount.com"


@dataclasses.dataclass(frozen=True)
class Dispatch:
    """One request the target received."""

    at: float  # time.monotonic() on arrival
    path: str
    headers: dict[str, str]
    body: bytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops connections of a burst of dispatches;
    # the dispatcher's connect then waits a 1 s SYN retransmit.
    request_queue_size = 128


class Target:
    """A local HTTP server standing in for the retry worker.

    Records each POST, holds it `hold` seconds, then answers `status`; counts
    the requests in progress at once.
    """

    def __init__(self, status: int = 200, hold: float = 0.0) -> None:
        self.dispatches: list[Dispatch] = []
        self.most_at_once = 0
        self._in_progress = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with owner._lock:
                    owner.dispatches.append(Dispatch(time.monotonic(), self.path, headers, body))
                    owner._in_progress += 1
                    owner.most_at_once = max(owner.most_at_once, owner._in_progress)
                time.sleep(hold)
                with owner._lock:
                    owner._in_progress -= 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/tasks/retry"

    def wait_for(self, count: int, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while len(self.dispatches) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.dispatches) >= count, f"{len(self.dispatches)} of {count} dispatches"

    def __enter__(self) -> Target:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _task(event_id: str = "ev-1", generation: int = 1) -> RetryTask:
    return RetryTask("u1", "s1", event_id, "sessions", "replay", generation)


def _unique_task(generation: int = 1) -> RetryTask:
    return _task(f"ev-{uuid.uuid4().hex}", generation)


# -- the task request --------------------------------------------------------------------------


def test_task_request_without_a_service_account_has_no_oidc_token() -> None:
    queue = CloudTasksRetryQueue(object(), QUEUE, target_url="http://worker/")

    request = queue.task_request(_task(generation=3))

    assert request == {
        "name": f"{QUEUE}/tasks/{episode_id('ev-1')}-3",
        "http_request": {
            "http_method": "POST",
            "url": "http://worker/",
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(_task(generation=3).body()).encode(),
        },
        "dispatch_deadline": {"seconds": DEFAULT_DISPATCH_DEADLINE_SECONDS},
    }
    assert json.loads(request["http_request"]["body"]) == {
        "user_id": "u1",
        "session_id": "s1",
        "event_id": "ev-1",
        "table": "sessions",
        "origin": "replay",
        "generation": 3,
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
        dispatch_deadline_seconds=900,
    )

    assert default_audience.task_request(_task())["http_request"]["oidc_token"] == {
        "service_account_email": SERVICE_ACCOUNT,
        "audience": "https://worker/",
    }
    request = own_audience.task_request(_task())
    assert request["http_request"]["oidc_token"] == {
        "service_account_email": SERVICE_ACCOUNT,
        "audience": "https://audience",
    }
    assert request["dispatch_deadline"] == {"seconds": 900}


# -- the emulator --------------------------------------------------------------------------------


@pytest.fixture
def tasks(local_stack: LocalStack, local_settings: Settings) -> Iterator[tasks_v2.CloudTasksClient]:
    with clients.tasks_client(local_settings) as client:
        yield client


QueueFactory = Callable[..., str]
FAST = QueuePolicy(max_dispatches_per_second=500.0)  # a queue whose rate never binds here


@pytest.fixture
def own_queue(tasks: tasks_v2.CloudTasksClient, local_settings: Settings) -> Iterator[QueueFactory]:
    """Creates queues of the test's own on the emulator (durations unscaled, as in GCP)."""
    parent = f"projects/{local_settings.project}/locations/{local_settings.tasks_location}"
    created: list[str] = []

    def create(policy: QueuePolicy = FAST, *, paused: bool = False) -> str:
        name = f"{parent}/queues/test-{uuid.uuid4().hex[:12]}"
        queue = tasks_v2.Queue(
            name=name,
            rate_limits=tasks_v2.RateLimits(
                max_dispatches_per_second=policy.max_dispatches_per_second
            ),
            retry_config=tasks_v2.RetryConfig(
                max_attempts=policy.max_retries,
                min_backoff=timedelta(seconds=policy.min_backoff_seconds),
                max_backoff=timedelta(seconds=policy.max_backoff_seconds),
                max_doublings=policy.max_doublings,
            ),
        )
        tasks.create_queue(parent=parent, queue=queue, timeout=10)
        created.append(name)
        if paused:
            tasks.pause_queue(name=name, timeout=10)
        return name

    yield create
    for name in created:
        tasks.delete_queue(name=name, timeout=10)


def _retry_queue(
    tasks: tasks_v2.CloudTasksClient, queue: str, target: Target, **options: Any
) -> CloudTasksRetryQueue:
    return CloudTasksRetryQueue(tasks, queue, target_url=target.url, timeout=5, **options)


def _listed(client: tasks_v2.CloudTasksClient, queue: str) -> list[tasks_v2.Task]:
    request = {"parent": queue, "response_view": tasks_v2.Task.View.FULL}
    return list(client.list_tasks(request=request, timeout=10))


def _live(client: tasks_v2.CloudTasksClient, name: str) -> bool:
    try:
        client.get_task(name=name, timeout=10)
    except exceptions.NotFound:
        return False
    return True


def _wait_gone(client: tasks_v2.CloudTasksClient, name: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while _live(client, name):
        assert time.monotonic() < deadline, f"{name} still live after {seconds} s"
        time.sleep(0.02)


def test_a_live_task_holds_its_name_and_a_task_that_ended_tombstones_it(
    tasks: tasks_v2.CloudTasksClient, own_queue: QueueFactory
) -> None:
    queue = own_queue(paused=True)
    task = _unique_task()
    name = f"{queue}/tasks/{task.name}"
    with Target(status=200) as target:
        retry_queue = _retry_queue(
            tasks, queue, target, service_account=SERVICE_ACCOUNT, dispatch_deadline_seconds=300
        )

        assert retry_queue.enqueue(task) is Enqueued.CREATED
        assert retry_queue.enqueue(task) is Enqueued.EXISTS  # live: the retry is scheduled
        [listed] = _listed(tasks, queue)
        got = tasks.get_task(
            request={"name": name, "response_view": tasks_v2.Task.View.FULL}, timeout=10
        )

        tasks.resume_queue(name=queue, timeout=10)
        target.wait_for(1)
        _wait_gone(tasks, name)
        assert retry_queue.enqueue(task) is Enqueued.TOMBSTONED  # ended: no retry behind it
        next_generation = dataclasses.replace(task, generation=2)
        assert retry_queue.enqueue(next_generation) is Enqueued.CREATED
        target.wait_for(2)

    assert listed.name == got.name == name
    assert got.http_request.url == target.url
    assert got.http_request.http_method == tasks_v2.HttpMethod.POST
    assert json.loads(got.http_request.body) == task.body()
    assert got.http_request.headers["Content-Type"] == "application/json"
    assert got.http_request.oidc_token.service_account_email == SERVICE_ACCOUNT
    assert got.http_request.oidc_token.audience == target.url
    assert got.dispatch_deadline.total_seconds() == 300
    first, second = target.dispatches
    for dispatch, sent in ((first, task), (second, next_generation)):
        assert dispatch.path == "/tasks/retry"
        assert json.loads(dispatch.body) == sent.body()
        assert dispatch.headers["x-cloudtasks-taskname"] == sent.name
        assert dispatch.headers["x-cloudtasks-queuename"] == queue.rsplit("/", 1)[-1]  # short
        assert dispatch.headers["x-cloudtasks-taskretrycount"] == "0"
        assert "authorization" not in dispatch.headers  # the emulator sends no OIDC token
    assert json.loads(second.body)["generation"] == 2
    assert len(target.dispatches) == 2  # a refused name dispatched nothing


def test_a_failing_task_waits_the_queues_backoff_and_ends_after_max_attempts(
    tasks: tasks_v2.CloudTasksClient, own_queue: QueueFactory, local_settings: Settings
) -> None:
    """Cloud Tasks' schedule: min_backoff, doubled max_doublings times, then linear, capped.

    The durations are chosen so the compressed delays are 0.2, 0.4, 0.8, 1.0, 1.0 s.
    """
    scale = local_settings.time_scale
    policy = QueuePolicy(
        max_dispatches_per_second=500.0,
        max_retries=6,  # the queue's max_attempts
        min_backoff_seconds=0.2 / scale,
        max_backoff_seconds=1.0 / scale,
        max_doublings=2,
    )
    queue = own_queue(policy)
    task = _unique_task()
    with Target(status=503) as target:
        retry_queue = _retry_queue(tasks, queue, target)

        assert retry_queue.enqueue(task) is Enqueued.CREATED
        target.wait_for(policy.max_retries, seconds=30)
        last_gap = policy.backoff_seconds(policy.max_retries - 1) * scale
        time.sleep(2 * last_gap)  # long past when a 7th dispatch would come
        dispatches = list(target.dispatches)

        assert not _live(tasks, f"{queue}/tasks/{task.name}")
        assert retry_queue.enqueue(task) is Enqueued.TOMBSTONED

    assert len(dispatches) == policy.max_retries
    assert [d.headers["x-cloudtasks-taskretrycount"] for d in dispatches] == [
        str(n) for n in range(policy.max_retries)
    ]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(dispatches)]
    expected = [policy.backoff_seconds(n) * scale for n in range(1, policy.max_retries)]
    assert [round(e, 3) for e in expected] == [0.2, 0.4, 0.8, 1.0, 1.0]
    for measured, wanted in zip(gaps, expected, strict=True):
        # Never early; late by the dispatcher's tick and a busy 2-core machine at most.
        assert wanted * 0.95 <= measured <= wanted + 0.5, (gaps, expected)


def test_the_queues_rate_spaces_dispatches(
    tasks: tasks_v2.CloudTasksClient, own_queue: QueueFactory, local_settings: Settings
) -> None:
    interval = 0.15  # seconds between dispatches, compressed
    policy = QueuePolicy(max_dispatches_per_second=local_settings.time_scale / interval)
    queue = own_queue(policy, paused=True)
    with Target(status=200) as target:
        retry_queue = _retry_queue(tasks, queue, target)
        for _ in range(5):
            assert retry_queue.enqueue(_unique_task()) is Enqueued.CREATED

        tasks.resume_queue(name=queue, timeout=10)
        target.wait_for(5)

    gaps = [b.at - a.at for a, b in itertools.pairwise(target.dispatches)]
    assert all(interval * 0.9 <= gap <= interval + 0.5 for gap in gaps), gaps


def test_a_compressed_rate_above_one_dispatch_per_tick_is_kept(
    tasks: tasks_v2.CloudTasksClient, own_queue: QueueFactory, local_settings: Settings
) -> None:
    """The production rate (10/s) compressed by the stack's scale (0.01): 1000 dispatches/s.

    The dispatcher looks for due tasks every 10 ms; a dispatcher starting one task
    per look would manage 100/s whatever the queue says.
    """
    policy = QueuePolicy()  # the production queue's rate
    interval = local_settings.time_scale / policy.max_dispatches_per_second
    count = 200
    queue = own_queue(policy, paused=True)
    with Target(status=200) as target:
        retry_queue = _retry_queue(tasks, queue, target)
        for _ in range(count):
            retry_queue.enqueue(_unique_task())

        tasks.resume_queue(name=queue, timeout=10)
        target.wait_for(count, seconds=30)

    span = target.dispatches[-1].at - target.dispatches[0].at
    ideal = (count - 1) * interval
    assert span >= ideal * 0.9, f"{count} dispatches in {span:.2f} s: faster than the rate"
    # Generous for a busy 2-core machine, still half of what one dispatch per tick takes.
    assert span <= max(ideal * 5, 1.0), f"{count} dispatches in {span:.2f} s, not {ideal:.2f} s"


def test_several_tasks_are_dispatched_at_once_and_stay_live_while_in_flight(
    tasks: tasks_v2.CloudTasksClient, own_queue: QueueFactory
) -> None:
    queue = own_queue(paused=True)
    batch = [_unique_task() for _ in range(6)]
    with Target(status=200, hold=1.0) as target:
        retry_queue = _retry_queue(tasks, queue, target)
        for task in batch:
            assert retry_queue.enqueue(task) is Enqueued.CREATED
        started = time.monotonic()

        tasks.resume_queue(name=queue, timeout=10)
        target.wait_for(6)
        in_flight = retry_queue.enqueue(batch[0])
        for task in batch:
            _wait_gone(tasks, f"{queue}/tasks/{task.name}")
        elapsed = time.monotonic() - started

    assert in_flight is Enqueued.EXISTS  # dispatched but not answered yet: still live
    assert target.most_at_once == 6
    assert elapsed < 6 * 1.0, f"{elapsed:.1f} s: dispatched one after another"


TOMBSTONE_SECONDS = 3600.0  # Cloud Tasks keeps an ended task's name taken about an hour


def test_the_name_of_an_ended_task_is_free_again_after_the_tombstone_time(
    tasks: tasks_v2.CloudTasksClient, own_queue: QueueFactory, local_settings: Settings
) -> None:
    tombstone = TOMBSTONE_SECONDS * local_settings.time_scale  # 36 s on the default scale
    if tombstone > 120:
        pytest.skip(f"LOCAL_TIME_SCALE={local_settings.time_scale}: a {tombstone:.0f} s wait")
    queue = own_queue()
    task = _unique_task()
    with Target(status=200) as target:
        retry_queue = _retry_queue(tasks, queue, target)
        assert retry_queue.enqueue(task) is Enqueued.CREATED
        target.wait_for(1)
        ended = target.dispatches[0].at
        _wait_gone(tasks, f"{queue}/tasks/{task.name}")

        answers = []
        while (answer := retry_queue.enqueue(task)) is Enqueued.TOMBSTONED:
            answers.append(answer)
            assert time.monotonic() - ended < tombstone + 10, "the name stays taken"
            time.sleep(0.5)
        freed = time.monotonic() - ended
        target.wait_for(2)

    assert answer is Enqueued.CREATED
    assert len(answers) > 1
    assert tombstone * 0.97 <= freed <= tombstone + 3, f"freed after {freed:.1f} s"


def test_the_stacks_reset_frees_the_names_of_ended_tasks(
    clean_stack: LocalStack, tasks: tasks_v2.CloudTasksClient, local_settings: Settings
) -> None:
    queue = clients.queue_path(local_settings)
    task = _unique_task()
    with Target(status=200) as target:
        retry_queue = _retry_queue(tasks, queue, target)
        assert retry_queue.enqueue(task) is Enqueued.CREATED
        target.wait_for(1)
        _wait_gone(tasks, f"{queue}/tasks/{task.name}")
        assert retry_queue.enqueue(task) is Enqueued.TOMBSTONED

        clean_stack.reset()

        assert retry_queue.enqueue(task) is Enqueued.CREATED
        target.wait_for(2)
        _wait_gone(tasks, f"{queue}/tasks/{task.name}")

    assert [json.loads(d.body) for d in target.dispatches] == [task.body(), task.body()]


# -- a scripted Cloud Tasks server ---------------------------------------------------------------

Answer = tasks_v2.Task | grpc.StatusCode


class ScriptedCloudTasks:
    """A gRPC server answering CreateTask with `create(request)` and GetTask with `get(request)`."""

    def __init__(
        self,
        create: Callable[[tasks_v2.CreateTaskRequest], Answer],
        get: Callable[[tasks_v2.GetTaskRequest], Answer] = lambda request: (
            grpc.StatusCode.NOT_FOUND
        ),
    ) -> None:
        self.calls: list[tuple[str, str]] = []  # (method, task name)

        def answered(answer: Answer, context: grpc.ServicerContext) -> Any:
            if isinstance(answer, grpc.StatusCode):
                context.abort(answer, f"scripted {answer.name}")
            return answer

        def create_task(request: tasks_v2.CreateTaskRequest, context: grpc.ServicerContext) -> Any:
            self.calls.append(("CreateTask", request.task.name))
            assert request.parent == QUEUE
            return answered(create(request), context)

        def get_task(request: tasks_v2.GetTaskRequest, context: grpc.ServicerContext) -> Any:
            self.calls.append(("GetTask", request.name))
            return answered(get(request), context)

        handler = grpc.method_handlers_generic_handler(
            "google.cloud.tasks.v2.CloudTasks",
            {
                "CreateTask": grpc.unary_unary_rpc_method_handler(
                    create_task,
                    request_deserializer=tasks_v2.CreateTaskRequest.deserialize,
                    response_serializer=tasks_v2.Task.serialize,
                ),
                "GetTask": grpc.unary_unary_rpc_method_handler(
                    get_task,
                    request_deserializer=tasks_v2.GetTaskRequest.deserialize,
                    response_serializer=tasks_v2.Task.serialize,
                ),
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


NAME = f"{QUEUE}/tasks/{episode_id('ev-1')}-1"


def test_a_created_task_returns_after_one_call(local_settings: Settings) -> None:
    with ScriptedCloudTasks(lambda request: request.task) as server:
        assert _queue_at(local_settings, server.port).enqueue(_task()) is Enqueued.CREATED

    assert server.calls == [("CreateTask", NAME)]


@pytest.mark.parametrize(
    ("get", "enqueued"),
    [
        (lambda request: tasks_v2.Task(name=request.name), Enqueued.EXISTS),
        (lambda request: grpc.StatusCode.NOT_FOUND, Enqueued.TOMBSTONED),
    ],
    ids=["live", "ended"],
)
def test_a_taken_name_is_looked_up(
    get: Callable[[tasks_v2.GetTaskRequest], Answer], enqueued: Enqueued, local_settings: Settings
) -> None:
    with ScriptedCloudTasks(lambda request: grpc.StatusCode.ALREADY_EXISTS, get) as server:
        assert _queue_at(local_settings, server.port).enqueue(_task()) is enqueued

    assert server.calls == [("CreateTask", NAME), ("GetTask", NAME)]


def test_a_failing_lookup_of_a_taken_name_is_transient(local_settings: Settings) -> None:
    with (
        ScriptedCloudTasks(
            lambda request: grpc.StatusCode.ALREADY_EXISTS,
            lambda request: grpc.StatusCode.UNAVAILABLE,
        ) as server,
        pytest.raises(TransientError, match=r"^enqueue retry task: ServiceUnavailable"),
    ):
        _queue_at(local_settings, server.port).enqueue(_task())

    assert server.calls == [("CreateTask", NAME), ("GetTask", NAME)] * 3


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
    assert server.calls == [("CreateTask", NAME)] * attempts
