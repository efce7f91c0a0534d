"""`session-sync transform`: row on stdout, one error line and exit 2 on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SALT = "cli-test-salt-0123456789-0123456789"
DOCUMENT = {
    "startTime": "2026-01-02T03:04:05Z",
    "createdAt": {"seconds": 1767322800, "nanos": 0},
    "status": "completed",
    "repCount": 0,
}


def run(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PSEUDONYMIZATION_SALT": SALT, "PIPELINE_MODE": "cloud", **env}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "transform", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )


def test_prints_the_row_with_the_sha256sum_hash() -> None:
    result = run("--user-id", "u1", "--session-id", "s1", stdin=json.dumps(DOCUMENT))
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)
    expected = (
        subprocess.run(["sha256sum"], input=f"u1{SALT}".encode(), capture_output=True, check=True)
        .stdout.split()[0]
        .decode()
    )
    assert row["user_id_hash"] == expected
    assert row["session_id"] == "s1"
    assert row["rep_count"] == 0
    assert row["created_at"] == "2026-01-02T03:00:00.000000Z"


def test_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(DOCUMENT))
    result = run("--user-id", "u1", "--session-id", "s1", str(path))
    assert result.returncode == 0
    assert json.loads(result.stdout)["start_time"] == "2026-01-02T03:04:05.000000Z"


@pytest.mark.parametrize(
    ("stdin", "needle"),
    [
        ('{"startTime": 5}', "startTime"),
        ("{not json", "not valid JSON"),
        (
            json.dumps({**DOCUMENT, "formFeedback": {"overallScore": "high"}}),
            "formFeedback.overallScore",
        ),
    ],
)
def test_invalid_input_prints_one_line_and_exits_2(stdin: str, needle: str) -> None:
    result = run("--user-id", "u1", "--session-id", "s1", stdin=stdin)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert needle in result.stderr


def test_refuses_a_short_salt_outside_local_mode() -> None:
    result = run("--user-id", "u1", "--session-id", "s1", stdin="{}", PSEUDONYMIZATION_SALT="short")
    assert result.returncode == 2
    assert "PSEUDONYMIZATION_SALT" in result.stderr


def test_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "transform", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "--user-id" in result.stdout
