"""requirements.lock pins what the functions deploy, within the ranges pyproject.toml allows."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.terraform.hcl_config import REPO_ROOT

LOCK = REPO_ROOT / "requirements.lock"
PINNED = re.compile(r"^(?P<name>[a-z0-9]+(?:[-.][a-z0-9]+)*)==(?P<version>\S+)$")


def locked() -> dict[str, str]:
    """Canonical name -> version of every `name==version` line of the lock."""
    assert LOCK.is_file(), (
        "requirements.lock is missing: run terraform/scripts/lock_requirements.py"
    )
    lines = [
        line
        for line in LOCK.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pins: dict[str, str] = {}
    for line in lines:
        match = PINNED.match(line)
        assert match, f"not an exact canonical pin: {line!r}"
        assert match["name"] not in pins, f"{match['name']} pinned twice"
        pins[match["name"]] = match["version"]
    assert list(pins) == sorted(pins), "keep the lock sorted, as the script writes it"
    return pins


def runtime_requirements() -> list[Requirement]:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        return [Requirement(line) for line in tomllib.load(handle)["project"]["dependencies"]]


@pytest.mark.parametrize("requirement", runtime_requirements(), ids=str)
def test_every_runtime_dependency_is_locked_within_its_range(requirement: Requirement) -> None:
    pins = locked()
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{name} is a runtime dependency missing from requirements.lock"
    assert requirement.specifier.contains(pins[name], prereleases=True), (
        f"requirements.lock pins {name}=={pins[name]}, outside pyproject.toml's {requirement}"
    )


def test_lock_holds_more_than_the_direct_dependencies() -> None:
    direct = {canonicalize_name(r.name) for r in runtime_requirements()}
    transitive = set(locked()) - direct
    assert {"google-api-core", "grpcio", "protobuf", "flask"} <= transitive, (
        "the lock must pin what the direct dependencies need too"
    )
