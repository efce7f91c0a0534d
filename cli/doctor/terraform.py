"""What terraform says: `terraform output -json` of a deployment, and the inputs' values.

The outputs name the deployed resources, identities, URLs and audiences (see
`terraform/outputs.tf`); `operator_env` holds the settings. Inputs that no output
carries (the push subscription's retry and dead-letter numbers, the function
names) are read from `terraform/variables.tf` defaults, overridden by the scalar
assignments of `terraform/terraform.tfvars`: the files terraform itself reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.exits import UsageError

TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "terraform"

_VARIABLE = re.compile(r'^variable\s+"(?P<name>\w+)"\s*\{(?P<body>.*?)^\}', re.M | re.S)
_DEFAULT = re.compile(r"^  default\s*=\s*(?P<value>.+?)\s*$", re.M)
_ASSIGNMENT = re.compile(r"^(?P<name>[a-z_][a-z0-9_]*)\s*=\s*(?P<value>.+?)\s*$", re.M)


@dataclass(frozen=True)
class TerraformOutput:
    """The values of `terraform output -json` (each output's `value`)."""

    path: str
    values: dict[str, Any]

    def env(self) -> dict[str, str]:
        """The settings of `operator_env` (KEY=value lines; the comment line is skipped)."""
        text = self.values.get("operator_env") or ""
        env: dict[str, str] = {}
        for line in str(text).splitlines():
            key, equals, value = line.partition("=")
            if equals and not line.lstrip().startswith("#"):
                env[key.strip()] = value
        return env

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if isinstance(value, str) and value else None

    def mapping(self, name: str) -> dict[str, str]:
        value = self.values.get(name)
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def read_output(path: Path) -> TerraformOutput:
    """Parse the file `terraform output -json` wrote; raises `UsageError` naming the problem."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"--terraform-output: cannot read {path}: {error}") from None
    except ValueError as error:
        raise UsageError(f"--terraform-output: {path} is not JSON ({error})") from None
    if not isinstance(raw, dict) or not all(
        isinstance(item, dict) and "value" in item for item in raw.values()
    ):
        raise UsageError(
            f"--terraform-output: {path} is not the output of `terraform output -json`"
            " (an object of {name: {value: ...}})"
        )
    values = {name: item["value"] for name, item in raw.items()}
    if "operator_env" not in values:
        raise UsageError(
            f"--terraform-output: {path} has no operator_env output (is it this project's?)"
        )
    return TerraformOutput(str(path), values)


def scalar(text: str) -> Any:
    """An HCL scalar literal as Python (number, string, bool, null); `...` when not a scalar."""
    text = text.strip()
    if text == "null":
        return None
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    if re.fullmatch(r'"(?:[^"\\$]|\\.)*"', text):
        return json.loads(text)
    return ...


def inputs(directory: Path = TERRAFORM_DIR) -> dict[str, Any]:
    """The scalar inputs terraform would use: variable defaults, then terraform.tfvars.

    Empty when the configuration is not there (an installed CLI without the repository).
    """
    values: dict[str, Any] = {}
    try:
        variables = (directory / "variables.tf").read_text(encoding="utf-8")
    except OSError:
        return values
    declared = set()
    for block in _VARIABLE.finditer(variables):
        declared.add(block["name"])
        default = _DEFAULT.search(block["body"])
        if default is not None and (value := scalar(default["value"])) is not ...:
            values[block["name"]] = value
    try:
        overrides = (directory / "terraform.tfvars").read_text(encoding="utf-8")
    except OSError:
        return values
    for assignment in _ASSIGNMENT.finditer(overrides):
        value = scalar(assignment["value"])
        if value is not ... and assignment["name"] in declared:
            values[assignment["name"]] = value
    return values


def prefixed_names(file: str, directory: Path = TERRAFORM_DIR) -> dict[str, str]:
    """`key -> suffix` of the names a file builds as `"${var.name_prefix}-SUFFIX"`.

    The key is the attribute's own name (`trigger = "${var.name_prefix}-trigger"` in
    main.tf's function_names) or, for a `name = ...` attribute, the suffix itself (the
    scheduler jobs). Empty when the file is not there.
    """
    try:
        text = (directory / file).read_text(encoding="utf-8")
    except OSError:
        return {}
    found: dict[str, str] = {}
    for match in re.finditer(r'^\s*(\w+)\s*=\s*"\$\{var\.name_prefix\}-([\w-]+)"', text, re.M):
        key, suffix = match.groups()
        found[suffix if key == "name" else key] = suffix
    return found
