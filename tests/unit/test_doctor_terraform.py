"""Doctor's inputs: `terraform output -json` and terraform's variables, read as terraform does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.doctor.terraform import TERRAFORM_DIR, inputs, prefixed_names, read_output
from cli.exits import UsageError
from cli.main import main
from tests.terraform.hcl_config import terraform_config
from tests.unit import doctor_world as w


def test_variable_defaults_are_what_terraform_reads() -> None:
    config = terraform_config()
    scalars = {
        name: body["default"]
        for name, body in config.variables.items()
        if "default" in body
        and (body["default"] is None or isinstance(body["default"], str | int | float | bool))
    }

    assert scalars  # the configuration has scalar defaults to compare
    assert {
        name: value for name, value in inputs(TERRAFORM_DIR).items() if name in scalars
    } == scalars
    assert set(inputs(TERRAFORM_DIR)) <= set(config.variables)


def test_tfvars_override_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "variables.tf").write_text((TERRAFORM_DIR / "variables.tf").read_text())
    (tmp_path / "terraform.tfvars").write_text(
        'project_id = "p-1"\npush_max_delivery_attempts = 20\n# region = "x"\n'
        'labels = {\n  a = "b"\n}\n'
    )

    values = inputs(tmp_path)

    assert values["project_id"] == "p-1"
    assert values["push_max_delivery_attempts"] == 20
    assert values["region"] == "asia-northeast1"


def test_names_built_from_the_prefix_come_from_the_configuration() -> None:
    assert prefixed_names("main.tf") == {
        "trigger": "trigger",
        "sync_worker": "sync-worker",
        "retry_worker": "retry-worker",
        "salt_secret_id": "pseudonymization-salt",
    }
    assert prefixed_names("scheduler.tf") == {"redrive": "redrive", "reconcile": "reconcile"}


def test_terraform_output_supplies_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text(json.dumps(w.terraform_output_json()))

    output = read_output(path)

    assert output.env() == w.OPERATOR_ENV
    assert output.mapping("function_urls") == w.URLS
    assert output.text("push_audience") == w.URLS["sync_worker"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "cannot read"),
        ("not json", "is not JSON"),
        ('{"topic": "x"}', "is not the output of `terraform output -json`"),
        ('{"topic": {"value": "x"}}', "has no operator_env"),
    ],
)
def test_a_bad_terraform_output_is_a_usage_error(
    tmp_path: Path, content: str | None, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "out.json"
    if content is not None:
        path.write_text(content)

    with pytest.raises(UsageError, match=needle):
        read_output(path)
    assert main(["doctor", "--terraform-output", str(path)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("session-sync doctor: --terraform-output") and needle in line


def test_a_non_positive_canary_timeout_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--canary", "--canary-timeout", "0"]) == 2
    assert "--canary-timeout" in capsys.readouterr().err
