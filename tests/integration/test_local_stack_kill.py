"""A service killed with SIGKILL, as a crash would, is healthy again right after the next `up`."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.local.net import HOST, http_status
from cli.local.processes import ProcessRecord
from cli.local.services import ServiceSpec
from cli.local.stack import LocalStack
from shared.gcp import clients
from shared.settings import LOCAL_PORTS, load_settings

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]

SERVICES = (
    "firestore",
    "pubsub",
    "bigquery",
    "tasks",
    "fault-proxy",
    "trigger",
    "sync-worker",
    "retry-worker",
    "scheduler",
)
# Well under the 30 s an orphaned function server holds its port while a request is in flight.
BACK_WITHIN_SECONDS = 20.0


@pytest.fixture
def stack(local_stack: LocalStack) -> LocalStack:
    """The shared stack, healthy at the start of each case even if an earlier case left it down."""
    if not local_stack.status().healthy:
        local_stack.up()
    return local_stack


def test_the_cases_cover_every_service(local_stack: LocalStack) -> None:
    assert sorted(SERVICES) == sorted(spec.name for spec in local_stack.services)


@pytest.mark.parametrize("name", SERVICES)
def test_up_right_after_a_sigkill_brings_the_service_back_healthy(
    stack: LocalStack, name: str
) -> None:
    spec = next(spec for spec in stack.services if spec.name == name)
    killed = stack.state.read(name)
    assert killed is not None

    with _request_in_flight(spec):
        begin = time.monotonic()
        stack.kill_service(name)
        actions = stack.up()
        seconds = time.monotonic() - begin
    print(f"{name}: healthy again {seconds:.1f} s after SIGKILL")

    assert actions == {s.name: "started" if s.name == name else "reused" for s in stack.services}
    assert stack.status().healthy
    assert stack.state.read(name) not in (None, killed)
    assert _answers(stack, spec)
    assert _live_members(killed.pid) == [], "a process of the killed service's group survived"
    assert seconds < BACK_WITHIN_SECONDS


@pytest.mark.parametrize(
    ("member_started_earlier", "action"),
    [(False, "stopped"), (True, "stale")],
    ids=["ended", "spared"],
)
def test_down_ends_a_dead_process_group_only_if_none_started_before_the_recorded_one(
    tmp_path: Path, member_started_earlier: bool, action: str
) -> None:
    """A group whose leader died, left with one member; the PID file names another program."""
    ports = {name: str(port + 4000) for name, port in LOCAL_PORTS.items()}
    settings = load_settings({"PIPELINE_MODE": "local", **ports})
    stack = LocalStack(settings, root=REPO_ROOT, state_dir=tmp_path)
    leader = subprocess.Popen(["sh", "-c", "sleep 60 & wait"], start_new_session=True)
    try:
        member = _wait_for_member(leader.pid)
        ticks = _start_ticks(member) + 1 if member_started_earlier else _start_ticks(leader.pid)
        leader.kill()
        leader.wait()
        stack.state.write("firestore", ProcessRecord(leader.pid, ticks, program="java"))

        assert stack.down()["firestore"] == action
        assert _live_members(leader.pid) == ([member] if member_started_earlier else [])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader.pid, signal.SIGKILL)


@contextlib.contextmanager
def _request_in_flight(spec: ServiceSpec) -> Iterator[None]:
    """Half a request sent to the service and held open, as a crash under load would find it.

    An orphaned functions-framework worker waits for such a request before it lets go
    of its port.
    """
    port = next(iter(spec.ports.values()))
    with socket.create_connection((HOST, port), timeout=5) as connection:
        connection.sendall(b"POST / HTTP/1.1\r\nHost: test\r\n")
        time.sleep(0.3)  # time for the server to accept it
        yield


def _answers(stack: LocalStack, spec: ServiceSpec) -> bool:
    """True when the service answers a request in its own protocol."""
    if spec.name == "tasks":
        with clients.tasks_client(stack.settings) as tasks:
            queue = tasks.get_queue(name=clients.queue_path(stack.settings), timeout=10)
        return queue.name == clients.queue_path(stack.settings)
    url = spec.health_url or f"http://{HOST}:{next(iter(spec.ports.values()))}/"
    return http_status("GET", url) is not None


def _live_members(pgid: int) -> list[int]:
    """The processes of group `pgid` that still run (a zombie has already exited), from `ps`."""
    output = subprocess.run(
        ["ps", "-e", "-o", "pid=,pgid=,stat="], capture_output=True, text=True, check=True
    ).stdout
    rows = (line.split() for line in output.splitlines())
    return [int(pid) for pid, group, state in rows if int(group) == pgid and state[0] != "Z"]


def _wait_for_member(pgid: int) -> int:
    """The first process of group `pgid` other than its leader, once it runs."""
    deadline = time.monotonic() + 5
    while not (members := [pid for pid in _live_members(pgid) if pid != pgid]):
        assert time.monotonic() < deadline, f"group {pgid} got no member"
        time.sleep(0.01)
    return members[0]


def _start_ticks(pid: int) -> int:
    """The kernel start time of `pid` in clock ticks since boot (field 22 of its stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[19])
