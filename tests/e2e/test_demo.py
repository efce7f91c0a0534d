"""The demo tells the truth: every session synced, or a non-zero exit naming the recovery."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tests.e2e.harness import Pipeline

pytestmark = pytest.mark.e2e


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "demo", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
        check=False,
    )


def test_demo_with_bigquery_failing_exits_non_zero_and_names_the_recovery(
    pipeline: Pipeline,
) -> None:
    run = demo("--sessions", "5", "--fail-rate", "1")
    assert run.returncode == 1, run.stderr
    assert "synced                      0" in run.stdout
    assert "nan" not in run.stdout
    assert "session-sync redrive --force" in run.stdout
    assert "5 session(s) not synced (abandoned 5)" in run.stdout
    assert pipeline.faults.state()["fail_rate"] == 0  # the demo's own faults are gone


def test_demo_keeps_faults_an_operator_set(pipeline: Pipeline) -> None:
    pipeline.faults.set(latency_ms=5)
    try:
        run = demo("--sessions", "3")
        assert run.returncode == 0, run.stdout + run.stderr
        assert "keeping the faults set with `session-sync local faults`" in run.stdout
        assert pipeline.faults.state()["latency_ms"] == 5
    finally:
        pipeline.faults.clear()
