"""Keep a benchmark's report alone on the terminal: the pipeline's logs go to a file."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from shared.logging import configure_logging
from shared.settings import Settings


def log_to_file(settings: Settings, name: str) -> Path:
    """Send the structured logs of the code run in this process to `<stack dir>/<name>.log`."""
    path = Path(settings.local_stack_dir) / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    stream: TextIO = path.open("a", encoding="utf-8")  # open for the life of the process
    configure_logging(settings.log_level, stream)
    return path
