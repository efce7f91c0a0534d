"""The three standard streams of a command, injectable so tests can play the terminal."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO


@dataclass(frozen=True)
class Console:
    """stdout carries data only (ids, tables, JSON lines); prompts, progress, summaries: stderr."""

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def say(self, text: str) -> None:
        """Write one line to stderr (summaries, notes)."""
        print(text, file=self.stderr, flush=True)

    def emit(self, text: str) -> None:
        """Write one line of data to stdout."""
        print(text, file=self.stdout, flush=True)
