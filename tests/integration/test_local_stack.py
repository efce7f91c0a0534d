"""The local stack on the real emulators: start, reuse, provision, reset and stop."""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.cloud import bigquery, pubsub_v1, tasks_v2
from google.protobuf import timestamp_pb2

from cli.local import command
from cli.local.errors import StackError
from cli.local.processes import ProcessRecord
from cli.local.provision import table_schema, topic_paths
from cli.local.stack import LocalStack
from cli.local.toolchain import Toolchain
from shared.gcp import clients
from shared.queue_policy import queue_policy
from shared.settings import LOCAL_PORTS, Settings, load_settings

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
EMULATORS = {"firestore", "pubsub", "bigquery", "tasks"}


def test_up_is_healthy_and_status_lists_every_endpoint_and_resource(
    local_stack: LocalStack, local_settings: Settings
) -> None:
    status = local_stack.status()

    assert status.healthy
    assert [service.name for service in status.services] == _names(local_stack)
    assert set(_names(local_stack)) >= EMULATORS
    assert all(service.pid and service.rss_mib for service in status.services)
    ports = local_settings.local_ports
    assert status.service("bigquery").endpoints == {
        "rest": f"127.0.0.1:{ports['LOCAL_BIGQUERY_PORT']}",
        "grpc": f"127.0.0.1:{ports['LOCAL_BIGQUERY_GRPC_PORT']}",
    }
    assert status.resources == {
        "topic": f"projects/{local_settings.project}/topics/{local_settings.topic}",
        "dead_letter_topic": (
            f"projects/{local_settings.project}/topics/{local_settings.dead_letter_topic}"
        ),
        "dataset": f"{local_settings.project}.{local_settings.bq_dataset}",
        "table": local_settings.table_id,
        "view": local_settings.latest_view_id,
        "queue": clients.queue_path(local_settings),
    }


def test_status_command_prints_json_and_a_table(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())

    json_args = parser.parse_args(["local", "status", "--json"])
    assert json_args.handler(json_args) == 0
    printed = json.loads(capsys.readouterr().out)
    table_args = parser.parse_args(["local", "status"])
    assert table_args.handler(table_args) == 0
    table = capsys.readouterr().out

    assert printed["healthy"] is True
    assert {s["name"]: s["pid"] for s in printed["services"]} == {
        s.name: s.pid for s in local_stack.status().services
    }
    assert printed["resources"]["queue"] in table
    assert re.search(r"^firestore\s+\d+\s+healthy", table, re.MULTILINE)


def test_second_up_reuses_every_running_service(local_stack: LocalStack) -> None:
    before = {service.name: service.pid for service in local_stack.status().services}

    actions = local_stack.up()

    assert actions == dict.fromkeys(_names(local_stack), "reused")
    assert {service.name: service.pid for service in local_stack.status().services} == before


def test_resources_match_the_production_definitions(
    local_stack: LocalStack, local_settings: Settings
) -> None:
    with clients.bigquery_client(local_settings) as bq:
        table = bq.get_table(local_settings.table_id, timeout=10)
        view = bq.get_table(local_settings.latest_view_id, timeout=10)
    with clients.tasks_client(local_settings) as tasks:
        queue = tasks.get_queue(name=clients.queue_path(local_settings), timeout=10)
    with clients.publisher_client(local_settings) as publisher:
        for topic in topic_paths(local_settings):
            publisher.get_topic(topic=topic, timeout=10)

    assert table.time_partitioning.type_ == bigquery.TimePartitioningType.DAY
    assert table.time_partitioning.field == "start_time"
    assert table.clustering_fields == ["exercise_type", "user_id_hash"]
    assert len(table.schema) == 31
    assert [f.to_api_repr() for f in table.schema] == [f.to_api_repr() for f in table_schema()]
    assert view.table_type == "VIEW"
    policy = queue_policy(local_settings.max_retries)
    assert queue.rate_limits.max_dispatches_per_second == policy.max_dispatches_per_second
    assert queue.retry_config.max_attempts == policy.max_retries
    assert queue.retry_config.min_backoff.total_seconds() == policy.min_backoff_seconds
    assert queue.retry_config.max_backoff.total_seconds() == policy.max_backoff_seconds
    assert queue.retry_config.max_doublings == policy.max_doublings


def test_view_returns_the_newest_row_of_each_session(
    clean_stack: LocalStack, local_settings: Settings
) -> None:
    rows = [
        _row("user-a", "s1", synced_second=1, score=10.0),
        _row("user-a", "s1", synced_second=5, score=50.0),
        _row("user-a", "s1", synced_second=3, score=30.0),
        _row("user-b", "s2", synced_second=2, score=0.0),
    ]
    query = (
        "SELECT session_id, overall_score, synced_at"
        f" FROM `{local_settings.latest_view_id}` ORDER BY session_id"
    )
    with clients.bigquery_client(local_settings) as bq:
        assert bq.insert_rows_json(local_settings.table_id, rows, timeout=10) == []
        latest = list(bq.query(query, timeout=10).result(timeout=10))

    assert [(r.session_id, r.overall_score, r.synced_at.second) for r in latest] == [
        ("s1", 50.0, 5),
        ("s2", 0.0, 2),
    ]


def test_reset_empties_documents_rows_backlog_and_tasks_without_restarting(
    clean_stack: LocalStack, local_settings: Settings
) -> None:
    """The data stays clear of the running pipeline: no session path, the dead-letter topic."""
    pids = {service.name: service.pid for service in clean_stack.status().services}
    queue = clients.queue_path(local_settings)
    with (
        clients.publisher_client(local_settings) as publisher,
        clients.subscriber_client(local_settings) as subscriber,
        clients.tasks_client(local_settings) as tasks,
        clients.bigquery_client(local_settings) as bq,
    ):
        topic = publisher.topic_path(local_settings.project, local_settings.dead_letter_topic)
        subscription = subscriber.subscription_path(local_settings.project, "test-reset-backlog")
        subscriber.create_subscription(name=subscription, topic=topic, timeout=10)
        try:
            document = clients.firestore_client(local_settings).document("local-stack-test/reset")
            document.set({"status": "completed"})
            assert bq.insert_rows_json(local_settings.table_id, [_row("u", "s1")], timeout=10) == []
            for number in range(3):
                publisher.publish(topic, f"message {number}".encode()).result(timeout=10)
            for _ in range(3):
                tasks.create_task(parent=queue, task=_future_task(), timeout=10)
            assert len(list(tasks.list_tasks(parent=queue, timeout=10))) == 3

            clean_stack.reset()

            assert not document.get().exists
            assert _count(bq, local_settings.table_id) == 0
            assert _pull(subscriber, subscription) == []
            assert list(tasks.list_tasks(parent=queue, timeout=10)) == []
            publisher.publish(topic, b"after reset").result(timeout=10)
            assert _pull(subscriber, subscription) == [b"after reset"]
        finally:
            subscriber.delete_subscription(subscription=subscription, timeout=10)
    assert {service.name: service.pid for service in clean_stack.status().services} == pids


@pytest.mark.parametrize(
    ("toolchain", "named"),
    [
        (Toolchain(java="/nonexistent/jdk/bin/java"), "/nonexistent/jdk/bin/java"),
        (Toolchain(java="no-such-java-command"), "no-such-java-command"),
        (Toolchain(firestore_jar=Path("/nonexistent/firestore.jar")), "/nonexistent/firestore.jar"),
        (Toolchain(pubsub_emulator=Path("/nonexistent/pubsub")), "/nonexistent/pubsub"),
    ],
)
def test_up_fails_at_once_naming_a_missing_program(
    toolchain: Toolchain, named: str, local_settings: Settings, tmp_path: Path
) -> None:
    stack = LocalStack(local_settings, root=REPO_ROOT, state_dir=tmp_path, toolchain=toolchain)
    begin = time.monotonic()

    with pytest.raises(StackError, match=re.escape(named)):
        stack.up()

    assert time.monotonic() - begin < 2
    assert list(tmp_path.iterdir()) == []


def test_up_refuses_a_port_held_by_another_program_before_starting_anything(
    tmp_path: Path,
) -> None:
    stack = LocalStack(_shifted_settings(2000), root=REPO_ROOT, state_dir=tmp_path)
    taken = stack.settings.local_ports["LOCAL_BIGQUERY_PORT"]
    with (
        socket.create_server(("127.0.0.1", taken)),
        pytest.raises(StackError, match=f"bigquery: port {taken} .* in use"),
    ):
        stack.up()

    assert not list(tmp_path.glob("*.pid"))


def test_a_service_dying_at_start_fails_up_naming_its_log_and_stops_the_others(
    tmp_path: Path,
) -> None:
    broken_jar = tmp_path / "broken.jar"
    broken_jar.write_text("not a jar")
    state_dir = tmp_path / "state"
    stack = LocalStack(
        _shifted_settings(3000),
        root=REPO_ROOT,
        state_dir=state_dir,
        toolchain=Toolchain(firestore_jar=broken_jar),
    )

    with pytest.raises(StackError, match=re.escape(f"see {state_dir / 'firestore.log'}")):
        stack.up()

    assert not stack.status().healthy
    assert not any(service.running for service in stack.status().services)
    assert not list(state_dir.glob("*.pid"))


def test_down_removes_stale_pid_files_without_signalling(
    local_settings: Settings, tmp_path: Path
) -> None:
    stack = LocalStack(local_settings, root=REPO_ROOT, state_dir=tmp_path)
    reused = subprocess.Popen(["sleep", "30"])
    try:
        # A live process that is not the recorded one (PID reuse), and a process that is gone.
        stack.state.write("firestore", ProcessRecord(reused.pid, start_ticks=1, program="java"))
        stack.state.write("pubsub", ProcessRecord(2**22 + 1, start_ticks=1, program="java"))

        assert not stack.status().service("firestore").running
        actions = stack.down()

        assert actions["firestore"] == actions["pubsub"] == "stale"
        assert reused.poll() is None
        assert not list(tmp_path.glob("*.pid"))
    finally:
        reused.kill()
        reused.wait()


def test_down_stops_every_process_and_frees_every_port(tmp_path: Path) -> None:
    """A second stack on other ports and another state folder, so the shared one keeps running."""
    stack = LocalStack(_shifted_settings(1000), root=REPO_ROOT, state_dir=tmp_path)
    ports = {port for service in stack.services for port in service.ports.values()}
    try:
        stack.up()
        pids = {service.pid for service in stack.status().services}
        listening = _listeners()
        assert ports <= set(listening)
        assert pids <= set().union(*listening.values())
    finally:
        actions = stack.down()

    assert actions == dict.fromkeys(_names(stack), "stopped")
    listening = _listeners()
    assert not ports & set(listening), f"ports still listening: {ports & set(listening)}"
    assert not pids & set().union(*listening.values()), "a stack process still listens"
    assert not list(tmp_path.glob("*.pid"))


def _names(stack: LocalStack) -> list[str]:
    """The names of the stack's declared services, in start order."""
    return [spec.name for spec in stack.services]


def _shifted_settings(offset: int) -> Settings:
    """Local settings with every default stack port moved by `offset`, for a second stack."""
    ports = {name: str(port + offset) for name, port in LOCAL_PORTS.items()}
    return load_settings({"PIPELINE_MODE": "local", **ports})


def _row(
    user: str, session: str, *, synced_second: int = 0, score: float = 1.0
) -> dict[str, object]:
    return {
        "user_id_hash": user,
        "session_id": session,
        "exercise_type": "squat",
        "start_time": "2026-01-02T10:00:00Z",
        "created_at": "2026-01-02T10:00:00Z",
        "synced_at": f"2026-01-02T10:05:{synced_second:02d}Z",
        "overall_score": score,
        "warnings": [],
    }


def _future_task() -> tasks_v2.Task:
    """A task the emulator keeps (without dispatching it) for an hour."""
    schedule = timestamp_pb2.Timestamp()
    schedule.FromDatetime(datetime.now(UTC) + timedelta(hours=1))
    request = tasks_v2.HttpRequest(url="http://127.0.0.1:9/never", body=b"{}")
    return tasks_v2.Task(http_request=request, schedule_time=schedule)


def _count(bq: bigquery.Client, table: str) -> int:
    rows = list(bq.query(f"SELECT COUNT(*) AS n FROM `{table}`", timeout=10).result(timeout=10))
    count: int = rows[0].n
    return count


def _pull(subscriber: pubsub_v1.SubscriberClient, subscription: str) -> list[bytes]:
    """The data of every message the subscription hands out now (acknowledged)."""
    try:
        response = subscriber.pull(subscription=subscription, max_messages=10, timeout=2)
    except exceptions.DeadlineExceeded:
        return []
    ack_ids = [received.ack_id for received in response.received_messages]
    if ack_ids:
        subscriber.acknowledge(subscription=subscription, ack_ids=ack_ids)
    return [received.message.data for received in response.received_messages]


def _listeners() -> dict[int, set[int]]:
    """The process ids behind each listening TCP port, from `ss -ltnp`."""
    output = subprocess.run(
        ["ss", "-ltnpH"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    listeners: dict[int, set[int]] = {}
    for line in output.splitlines():
        port = int(line.split()[3].rsplit(":", 1)[1])
        listeners.setdefault(port, set()).update(map(int, re.findall(r"pid=(\d+)", line)))
    return listeners
