"""checkov on terraform/: no failed check unless skipped inline with a stated reason."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

from tests.terraform.hcl_config import REPO_ROOT, TERRAFORM_DIR, terraform_config, terraform_load

CHECKOV = REPO_ROOT / ".tools" / "checkov" / "bin" / "checkov"
SKIP_COMMENT = re.compile(r"#\s*checkov:skip=(?P<id>[^:\s]+)(?::(?P<reason>.*))?")
MIN_REASON = 20


def run_checkov() -> dict[str, Any]:
    assert CHECKOV.exists(), (
        f"checkov is missing at {CHECKOV.relative_to(REPO_ROOT)}: run `make setup`, which creates "
        "it with `python3 -m venv .tools/checkov && .tools/checkov/bin/pip install checkov==3.3.30`"
    )
    completed = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(TERRAFORM_DIR),
            "--framework",
            "terraform",
            "--output",
            "json",
            "--skip-download",
            "--compact",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"},
    )
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"checkov printed no JSON report (exit {completed.returncode}):\n"
            f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        ) from None
    assert isinstance(report, dict) and "results" in report, (
        f"checkov found nothing to scan in terraform/: {completed.stdout[-2000:]}"
    )
    return report


def test_checkov_has_no_unexplained_findings() -> None:
    # checkov passes files it cannot parse, so Terraform's own loader must accept them first.
    load = terraform_load()
    assert load.ok, f"Terraform cannot load terraform/, so checkov proves nothing:\n{load.stderr}"

    report = run_checkov()
    summary = report["summary"]
    results = report["results"]
    declared = len(terraform_config().resources)
    assert summary["parsing_errors"] == 0, results["parsing_errors"]
    assert summary["resource_count"] >= declared, (
        f"checkov saw {summary['resource_count']} resources, terraform/ declares {declared}"
    )
    assert summary["passed"] > 0, summary

    failed = [
        f"{check['check_id']} {check['check_name']}: {check['resource']} "
        f"({check['file_path']}:{check['file_line_range']})"
        for check in results["failed_checks"]
    ]
    assert not failed, (
        "checkov failed checks; fix them or skip inline with "
        "`# checkov:skip=CKV_...:why it does not apply`:\n" + "\n".join(failed)
    )
    for check in results["skipped_checks"]:
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) >= MIN_REASON, (
            f"{check['check_id']} on {check['resource']} is skipped without a reason"
        )
    print(f"checkov: {summary}")


def test_every_inline_skip_states_why() -> None:
    for path in sorted(TERRAFORM_DIR.rglob("*.tf")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = SKIP_COMMENT.search(line)
            if match is None:
                continue
            reason = (match.group("reason") or "").strip()
            where = f"{path.relative_to(REPO_ROOT)}:{number}"
            assert re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", match.group("id")), where
            assert len(reason) >= MIN_REASON, f"{where}: say why {match.group('id')} is skipped"
