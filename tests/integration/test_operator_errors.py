"""What an operator sees when the setup is wrong: one line with the cause and the fix, no traceback.

Each command runs as a subprocess in a clean environment (HOME in a temporary
folder, no credentials, the metadata server probe pointed at a closed port), as
on a fresh laptop. Google's side is a refusing gRPC server at the emulator
address (the real client on the wire), or an address where nothing listens.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from shared.settings import LOCAL_PORTS
from tests.conftest import REPO_ROOT
from tests.fake_google import closed_port, refusing_grpc_server

pytestmark = pytest.mark.integration

SALT = "0123456789abcdef0123456789abcdef-salt"


def run_cli(argv: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str, float]:
    """`python -m cli.main ARGV` from the repository root; exit code, stderr, seconds taken."""
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *argv],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode, done.stderr, time.monotonic() - start


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """A fresh laptop: no credentials anywhere, no metadata server, nothing of this shell."""
    home = tmp_path / "home"
    home.mkdir()
    metadata = f"127.0.0.1:{closed_port()}"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CLOUDSDK_CONFIG": str(home / "gcloud"),
        "GCE_METADATA_HOST": metadata,
        "GCE_METADATA_IP": metadata,
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def cloud(env: dict[str, str], **extra: str) -> dict[str, str]:
    return {**env, "PIPELINE_MODE": "cloud", "GOOGLE_CLOUD_PROJECT": "p", **extra}


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["failures", "list"],
        ["replay", "--session", "u/s", "--dry-run"],
        ["replay", "--failures", "--dry-run"],
        ["backfill", "--dry-run"],
        ["reconcile"],
        ["redrive"],
        ["worker", "pull", "--idle-exit", "1"],
        ["status"],
        ["doctor"],
    ],
)
def test_no_credentials_is_one_line_naming_the_fix_and_exit_2(
    argv: list[str], clean_env: dict[str, str]
) -> None:
    code, stderr, _ = run_cli(argv, cloud(clean_env, PSEUDONYMIZATION_SALT=SALT))

    line = one_line(stderr)
    assert code == 2
    assert line.startswith(f"session-sync {argv[0]}")
    assert "no Google Cloud credentials" in line
    assert "gcloud auth application-default login" in line


def test_no_project_is_one_line_naming_the_setting_and_exit_2(clean_env: dict[str, str]) -> None:
    code, stderr, _ = run_cli(["failures", "list"], {**clean_env, "PIPELINE_MODE": "cloud"})

    line = one_line(stderr)
    assert code == 2
    assert "GOOGLE_CLOUD_PROJECT" in line
    assert "output -raw operator_env" in line


def _at(env: dict[str, str], address: str) -> dict[str, str]:
    """Cloud mode with every Google client pointed at `address` (anonymous, plain gRPC/HTTP)."""
    hosts = ("FIRESTORE", "PUBSUB", "BIGQUERY", "CLOUD_TASKS")
    return cloud(env, **{f"{name}_EMULATOR_HOST": address for name in hosts})


@pytest.mark.parametrize(
    ("status", "message", "reason", "code", "needles"),
    [
        (
            grpc.StatusCode.PERMISSION_DENIED,
            "Missing or insufficient permissions.",
            None,
            2,
            ["permission denied", "operator_members", "terraform"],
        ),
        (
            grpc.StatusCode.PERMISSION_DENIED,
            "Permission 'datastore.entities.list' denied on resource project p.",
            "IAM_PERMISSION_DENIED",
            2,
            ["lacks datastore.entities.list", "operator_members"],
        ),
        (
            grpc.StatusCode.PERMISSION_DENIED,
            "Permission denied on resource project p.",
            "CONSUMER_INVALID",
            2,
            ["project 'p' does not exist or your account cannot use it", "GOOGLE_CLOUD_PROJECT"],
        ),
        (
            grpc.StatusCode.NOT_FOUND,
            "Requested project not found or user does not have access to it (project=p).",
            None,
            2,
            ["does not exist or your account cannot use it", "GOOGLE_CLOUD_PROJECT"],
        ),
        (
            grpc.StatusCode.PERMISSION_DENIED,
            "Cloud Firestore API has not been used in project p before or it is disabled.",
            "SERVICE_DISABLED",
            2,
            ["API is disabled", "gcloud services enable firestore.googleapis.com"],
        ),
        (
            grpc.StatusCode.UNAVAILABLE,
            "The service is currently unavailable.",
            None,
            1,
            ["cannot reach Google Cloud", "network"],
        ),
    ],
)
def test_a_refusal_from_google_is_one_line_with_cause_and_fix(
    clean_env: dict[str, str],
    status: grpc.StatusCode,
    message: str,
    reason: str | None,
    code: int,
    needles: list[str],
) -> None:
    metadata = {"service": "firestore.googleapis.com", "consumer": "projects/p"}
    with refusing_grpc_server(status, message, reason=reason, **metadata) as (address, calls):
        exit_code, stderr, _ = run_cli(["failures", "list"], _at(clean_env, address))

    line = one_line(stderr)
    assert calls, "the command never reached the server"
    assert exit_code == code, line
    assert line.startswith("session-sync failures list: ")
    for needle in needles:
        assert needle in line


def test_an_unreachable_service_is_one_line_and_exit_1(clean_env: dict[str, str]) -> None:
    address = f"127.0.0.1:{closed_port()}"

    code, stderr, _ = run_cli(["failures", "list"], _at(clean_env, address))

    line = one_line(stderr)
    assert code == 1
    assert "cannot reach Google Cloud" in line


@pytest.mark.parametrize(
    "argv",
    [
        ["failures", "list"],
        ["reconcile"],
        ["backfill", "--dry-run"],
        ["replay", "--session", "u/s", "--yes"],
        ["replay", "--failures", "--dry-run"],
        ["redrive"],
        ["status"],
    ],
)
def test_with_the_local_stack_down_each_command_names_local_up_within_5_s(
    argv: list[str], clean_env: dict[str, str]
) -> None:
    ports = {name: str(closed_port()) for name in LOCAL_PORTS}  # a stack that is surely down

    code, stderr, seconds = run_cli(argv, {**clean_env, "PIPELINE_MODE": "local", **ports})

    line = one_line(stderr)
    assert code == 1
    assert "`session-sync local up`" in line
    assert seconds < 5
