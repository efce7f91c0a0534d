"""`session-sync cost`: its report, its JSON, and its usage errors."""

from __future__ import annotations

import json

import pytest

from cli.cost.bill import SERVICES
from cli.main import main


def test_a_million_sessions_a_day_prints_both_designs_per_service(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["cost", "--sessions-per-day", "1000000"]) == 0
    out = capsys.readouterr().out
    assert "1,000,000 completed sessions a day" in out
    header = next(line for line in out.splitlines() if line.startswith("monthly cost by service"))
    assert "session-sync" in header and "extension" in header
    for service in SERVICES:
        assert any(line.startswith(service) for line in out.splitlines()), service
    assert "dominant term, session-sync:" in out
    assert "dominant term, extension:" in out
    assert "largest terms, session-sync:" in out
    assert "fires the trigger again" in out
    assert "counts used (measured on the local stack on" in out
    assert "prices: cli/cost/prices.json" in out


def test_json_carries_totals_terms_and_the_counts_used(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["cost", "--sessions-per-day", "10000", "--failure-rate", "1%", "--backfill", "500000"]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["workload"]["failure_rate"] == pytest.approx(0.01)
    assert report["free_tiers_subtracted"] is False
    ours, theirs = report["monthly"]["session-sync"], report["monthly"]["extension"]
    assert ours["total"] > 0 and theirs["total"] > 0
    assert ours["total"] == pytest.approx(sum(ours["services"].values()), abs=0.01)
    labels = {term["label"] for term in ours["terms"]}
    assert any(label.startswith("backfill") for label in labels)
    assert any(label.startswith("transient failures") for label in labels)
    assert report["extension_offset_backfill_reads"] > 500_000 * 1000
    assert "live" in report["counts"]["paths"]


def test_a_backfill_shows_the_extensions_offset_backfill(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["cost", "--sessions-per-day", "0", "--backfill", "800000"]) == 0
    assert "paged with offsets" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--sessions-per-day", "x"],
        ["--sessions-per-day", "-5"],
        ["--sessions-per-day", "10", "--failure-rate", "2"],
        ["--sessions-per-day", "10", "--backfill", "-1"],
    ],
)
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["cost", *args])
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err
