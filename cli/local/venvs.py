"""Pinned emulator virtualenvs under `.tools/`, created from PyPI on demand."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from cli.local.errors import StackError

_MARKER = ".session-sync-requirements"


@dataclass(frozen=True)
class ToolVenv:
    """A virtualenv of its own for one emulator whose dependencies clash with the project's."""

    name: str
    requirements: tuple[str, ...]

    def path(self, tools_dir: Path) -> Path:
        """The virtualenv folder, `tools_dir/name`."""
        return tools_dir / self.name

    def python(self, tools_dir: Path) -> Path:
        """The virtualenv's Python interpreter."""
        return self.path(tools_dir) / "bin" / "python"

    def is_installed(self, tools_dir: Path) -> bool:
        """True when the virtualenv holds exactly these requirements."""
        marker = self.path(tools_dir) / _MARKER
        return (
            self.python(tools_dir).exists()
            and marker.exists()
            and marker.read_text() == self._marker_text()
        )

    def install(self, tools_dir: Path, log_path: Path) -> None:
        """(Re)create the virtualenv and pip-install the pins; raises `StackError` with the log."""
        folder = self.path(tools_dir)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("w") as log:
            for command in (
                [sys.executable, "-m", "venv", "--clear", str(folder)],
                [
                    str(self.python(tools_dir)),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    *self.requirements,
                ],
            ):
                log.write(f"$ {' '.join(command)}\n")
                log.flush()
                done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
                if done.returncode != 0:
                    raise StackError(
                        f"installing {' '.join(self.requirements)} into {folder} failed"
                        f" (exit {done.returncode}); see {log_path}"
                    )
        (folder / _MARKER).write_text(self._marker_text())

    def _marker_text(self) -> str:
        return "\n".join(self.requirements) + "\n"


BIGQUERY_EMULATOR = ToolVenv("bqemulator", ("bqemulator==1.4.0", "duckdb==2.0.1", "numpy==2.4.6"))
# Pins protobuf < 5 itself, which is why it cannot share the project's virtualenv.
TASKS_EMULATOR = ToolVenv("tasks-emulator", ("gcloud-tasks-emulator==0.6.2",))
