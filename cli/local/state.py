"""The stack's state folder (`.local-stack/`): a PID file and a log per service, and a lock."""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path

from cli.local.processes import ProcessRecord


class StateDir:
    """Reads and writes `NAME.pid` (JSON) and names `NAME.log` for each service."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def log_path(self, name: str) -> Path:
        """Where the service's output goes."""
        return self.path / f"{name}.log"

    def read(self, name: str) -> ProcessRecord | None:
        """The service's recorded process, or None without a readable PID file."""
        try:
            data = json.loads(self._pid_path(name).read_text())
            return ProcessRecord(int(data["pid"]), int(data["start_ticks"]), str(data["program"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, name: str, record: ProcessRecord) -> None:
        """Record the service's process (replacing an older record)."""
        self.path.mkdir(parents=True, exist_ok=True)
        data = {"pid": record.pid, "start_ticks": record.start_ticks, "program": record.program}
        self._pid_path(name).write_text(json.dumps(data) + "\n")

    def remove(self, name: str) -> None:
        """Forget the service's process; idempotent."""
        self._pid_path(name).unlink(missing_ok=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the folder's lock so two commands never start or stop the stack at once."""
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / "lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _pid_path(self, name: str) -> Path:
        return self.path / f"{name}.pid"
