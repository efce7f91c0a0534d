"""Doctor's checks of the local stack that need no emulator: the stack down, the helper
services and function servers silent, the retry target misconfigured."""

from __future__ import annotations

import json

import pytest

from cli.doctor import functions, local_stack, tasks
from cli.doctor.context import Context
from cli.doctor.expected import expected
from cli.doctor.report import State
from cli.main import main
from shared.settings import LOCAL_PORTS, load_settings
from tests.fake_google import closed_port
from tests.unit import doctor_world as w


class Silent:
    def status(self, method: str, url: str) -> int | None:
        return None


def local_context(**env: str) -> Context:
    settings = load_settings({"PIPELINE_MODE": "local", **env})
    clients = w.clients_of(w.healthy_world())
    clients.http = Silent()
    clients.rest = None
    return Context(expected(settings), clients)


def test_with_the_stack_down_doctor_says_local_up_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PIPELINE_MODE", "local")
    ports = {name: closed_port() for name in LOCAL_PORTS}
    for name, port in ports.items():
        monkeypatch.setenv(name, str(port))
    # Set here so that monkeypatch restores them: building a client exports its emulator host.
    for host, port in (
        ("FIRESTORE_EMULATOR_HOST", "LOCAL_FIRESTORE_PORT"),
        ("PUBSUB_EMULATOR_HOST", "LOCAL_PUBSUB_PORT"),
        ("BIGQUERY_EMULATOR_HOST", "LOCAL_BIGQUERY_PORT"),
        ("CLOUD_TASKS_EMULATOR_HOST", "LOCAL_TASKS_PORT"),
    ):
        monkeypatch.setenv(host, f"127.0.0.1:{ports[port]}")

    assert main(["doctor", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)

    [stack, rest] = report["checks"]
    assert stack["name"] == "local emulators" and stack["state"] == "fail"
    assert "`session-sync local up`" in stack["fix"]
    assert rest["state"] == "skip"


def test_silent_helper_services_fail_with_local_up() -> None:
    check = local_stack.helpers(local_context())

    assert check.state is State.FAIL
    assert "scheduler" in check.detail and "fault-proxy" in check.detail
    assert "session-sync local up" in check.fix


def test_silent_function_servers_fail_with_local_up() -> None:
    check = functions._local_servers(local_context())

    assert check.state is State.FAIL
    assert "sync worker (http://127.0.0.1:" in check.detail


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"RETRY_WORKER_URL": "http://127.0.0.1:9/"}, "RETRY_WORKER_URL is http://127.0.0.1:9/"),
        ({"TASKS_AUDIENCE": "https://elsewhere"}, "TASKS_AUDIENCE is https://elsewhere"),
    ],
)
def test_a_local_retry_target_that_is_not_the_retry_worker_fails(
    env: dict[str, str], needle: str
) -> None:
    check = tasks._target(local_context(**env))

    assert check.state is State.FAIL
    assert needle in check.detail
    assert "unset RETRY_WORKER_URL and TASKS_AUDIENCE" in check.fix
