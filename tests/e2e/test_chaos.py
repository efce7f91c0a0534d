"""The CI-sized chaos run: faults, crashes, duplicates and a simulated day of BigQuery outage,
and the pipeline ends consistent with no operator action (see bench/chaos.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.e2e


def test_chaos_ends_with_nothing_lost_doubled_or_stuck_and_no_operator() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.chaos", "--ci", "--json"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=600,
        check=False,
    )
    *report, last = run.stdout.strip().splitlines()
    figures = json.loads(last)
    assert run.returncode == 0, (run.stdout, run.stderr[-4000:])
    assert "lost 0, duplicated 0, stuck 0, needed operator 0" in report
    assert figures["settled"] and figures["reconcile_exit"] == 0
    assert figures["invalid"] > 0 and figures["invalid_unrecorded"] == 0
    assert figures["duplicate_deliveries"] > 0 and figures["open_at_outage_end"] > 0
    assert figures["view_rows"] == figures["sessions"] - figures["invalid"]
