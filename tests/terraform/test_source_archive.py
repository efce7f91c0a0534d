"""The one source archive all three functions deploy from."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path
from types import ModuleType

from tests.terraform.hcl_config import REPO_ROOT, TERRAFORM_DIR, terraform_config

SCRIPT = TERRAFORM_DIR / "scripts" / "build_source_archive.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_source_archive", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_archive_holds_the_entry_module_packages_and_requirements(tmp_path: Path) -> None:
    script = load_script()
    archive = script.build(tmp_path / "source.zip")
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        required = opened.read("requirements.txt")
    assert {"main.py", "requirements.txt", "shared/schema.json"} <= set(names)
    assert "shared/sql/sessions_latest.sql" in names
    for package in ("shared", "trigger", "sync_worker", "retry_worker"):
        assert f"{package}/__init__.py" in names
    assert not [n for n in names if n.startswith(("cli/", "tests/", "terraform/", "."))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert required == (REPO_ROOT / "requirements.lock").read_bytes(), (
        "the functions must install exactly the locked versions"
    )
    assert b"\nfunctions-framework==" in required


def test_archive_is_reproducible(tmp_path: Path) -> None:
    script = load_script()
    first = script.build(tmp_path / "first.zip")
    second = script.build(tmp_path / "second.zip")
    assert first.read_bytes() == second.read_bytes(), "same content must give the same filemd5()"


def test_terraform_default_path_is_where_the_script_writes() -> None:
    script = load_script()
    default = terraform_config().variables["source_archive_path"]["default"]
    assert (TERRAFORM_DIR / default).resolve() == script.DEFAULT_OUTPUT
