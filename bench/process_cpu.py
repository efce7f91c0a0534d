"""CPU seconds a process and its descendants have used, from the kernel's own accounting."""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may contain spaces)."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for children in (_PROC / str(pid) / "task").glob("*/children"):
        try:
            found.extend(int(child) for child in children.read_text().split())
        except OSError:
            continue
    return found


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` and every live descendant, plus what reaped children used.

    Fields after the name: state is index 0, so utime, stime, cutime, cstime
    (stat fields 14-17) are at 11-14.
    """
    total_ticks = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        fields = _stat_fields(current)
        if fields is None:
            continue
        total_ticks += sum(int(value) for value in fields[11:15])
        pending.extend(_children(current))
    return total_ticks / _TICKS
