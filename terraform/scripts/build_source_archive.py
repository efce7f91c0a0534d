"""Build the one source archive the three Cloud Functions are deployed from.

The zip holds the root `main.py` (every entry point), the runtime packages listed in
pyproject.toml's `[tool.setuptools]` (without the operator CLI) and a `requirements.txt`
copied from the repository's `requirements.lock` (exact versions of the runtime
dependencies and of what they need; see lock_requirements.py), which the Python
buildpack installs. The archive is byte-for-byte reproducible (sorted entries, fixed
timestamps), so terraform's `filemd5()` changes, and the functions redeploy, only when
the content changes, and two builds of one commit deploy the same dependencies.

Usage: python terraform/scripts/build_source_archive.py [--output dist/session-sync-source.zip]
"""

from __future__ import annotations

import argparse
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "dist" / "session-sync-source.zip"
# Operator tooling: installed with the project, never deployed.
NOT_DEPLOYED = frozenset({"cli"})
SKIPPED_PARTS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo"})
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
LOCK_NAME = "requirements.lock"


def _project(root: Path) -> dict[str, object]:
    with (root / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def requirements(root: Path) -> bytes:
    """requirements.lock, as it is: the exact versions the functions install."""
    lock = root / LOCK_NAME
    if not lock.is_file():
        raise FileNotFoundError(f"{lock} is missing: run terraform/scripts/lock_requirements.py")
    return lock.read_bytes()


def deployed_paths(root: Path) -> list[str]:
    """Repository-relative paths of every file that goes into the archive, sorted."""
    setuptools = _project(root)["tool"]["setuptools"]  # type: ignore[index]
    packages = {name.split(".")[0] for name in setuptools["packages"]}  # type: ignore[index]
    modules = setuptools.get("py-modules", [])  # type: ignore[union-attr]
    files = [f"{module}.py" for module in modules]
    for package in sorted(packages - NOT_DEPLOYED):
        files.extend(_package_files(root, package))
    missing = [name for name in files if not (root / name).is_file()]
    if missing:
        raise FileNotFoundError(f"missing from the repository: {', '.join(missing)}")
    return sorted(files)


def _package_files(root: Path, package: str) -> Iterator[str]:
    for path in (root / package).rglob("*"):
        relative = path.relative_to(root)
        if not path.is_file() or SKIPPED_PARTS.intersection(relative.parts):
            continue
        if path.suffix in SKIPPED_SUFFIXES:
            continue
        yield relative.as_posix()


def build(output: Path, root: Path = REPO_ROOT) -> Path:
    """Write the archive to `output` (parents created) and return it. Idempotent."""
    entries = {name: (root / name).read_bytes() for name in deployed_paths(root)}
    entries["requirements.txt"] = requirements(root)
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name])
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="zip to write")
    args = parser.parse_args(argv)
    path = build(args.output)
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
