"""Start, recognise, measure and stop the stack's processes, each in a process group of its own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cli.local.errors import StackError

# Processes this Python process started, kept so they can be reaped (no zombies, no warnings).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ProcessRecord:
    """What a PID file remembers about a started process, enough to recognise it later.

    A PID alone can be reused by another program; the kernel start time of the
    process and the program name in its command line tell ours apart. What it
    left running after dying is told by PID and start time alone (`leftovers`).
    """

    pid: int
    start_ticks: int
    program: str


@dataclass(frozen=True)
class _ProcStat:
    state: str
    ppid: int
    pgid: int
    session: int
    start_ticks: int


def spawn(
    command: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_path: Path
) -> ProcessRecord:
    """Start `command` detached in a new session, output to `log_path`; return its record."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            # Children inherit the caller's environment plus the service's own variables.
            env={**os.environ, **env},
            start_new_session=True,
        )
    _children[child.pid] = child
    stat = _stat(child.pid)
    if stat is None:
        child.wait()
        raise StackError(f"{command[0]} exited at once (exit {child.returncode}); see {log_path}")
    return ProcessRecord(child.pid, stat.start_ticks, Path(command[0]).name)


def is_running(record: ProcessRecord) -> bool:
    """True when the recorded process still runs and is the one we started (not a reused PID)."""
    stat = _stat(record.pid)
    if stat is None or stat.start_ticks != record.start_ticks or stat.state == "Z":
        return False
    return record.program in _cmdline(record.pid)


def kill(record: ProcessRecord, *, timeout_seconds: float = 5.0) -> None:
    """Send SIGKILL to the recorded process alone, as a crash would; wait until it has exited.

    Its children and the rest of its group live on. Raises `StackError` when it is
    not running or still runs after the timeout.
    """
    if not is_running(record):
        raise StackError(f"process {record.pid} ({record.program}) is not running")
    os.kill(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout_seconds
    while _alive({record.pid: record.start_ticks}):
        if time.monotonic() >= deadline:
            raise StackError(f"process {record.pid} ({record.program}) survived SIGKILL")
        time.sleep(0.01)


def exit_code(record: ProcessRecord) -> int | None:
    """The exit code of a process this Python process started and that has ended, else None."""
    child = _children.get(record.pid)
    return None if child is None else child.poll()


def rss_kib(record: ProcessRecord) -> int:
    """Resident memory of the process and all its descendants, in KiB."""
    return sum(_vm_rss_kib(pid) for pid in _family(record.pid))


def leftovers(record: ProcessRecord) -> dict[int, int]:
    """What the recorded process left running when it died: pid -> start ticks.

    Empty while it still runs, and when nothing of it is left. The rule uses the
    PID file's pid P and start time only, never a program name:

    - `spawn` makes the process the leader of a new session, so its group and
      session ids are both P. A group can only be joined from inside its session,
      so every member descends from the leader and started no earlier than it
      (start ticks >= the recorded ones; a tick is 10 ms, children often share it).
    - Linux gives P to no new process while any process still has P as its pid,
      group or session id. So if a live process other than our dead leader (a
      zombie with the recorded start time) holds pid P, all of ours are gone and
      group P belongs to someone else: nothing is ours.
    - Otherwise the live members of group P in session P are ours, unless P was
      freed and then taken by a new session whose own leader died too. That is
      seen when a member started before our process (say, a PID file kept across
      a reboot, whose ticks count from another boot): then nothing is ours. A
      group all started later cannot be told apart; it needs all of ours gone,
      the PID space to wrap and that leader to die before its group, all before
      the next `up` or `down`.

    A zombie leader whose other threads still exit (holding the ports) counts.
    """
    stats = _all_stats()
    leader = stats.get(record.pid)
    if leader is not None and (leader.start_ticks != record.start_ticks or leader.state != "Z"):
        return {}
    group = {
        pid: stat.start_ticks
        for pid, stat in stats.items()
        if stat.pgid == stat.session == record.pid and _live(pid, stat)
    }
    if any(ticks < record.start_ticks for ticks in group.values()):
        return {}
    return group


def stop(record: ProcessRecord, *, grace_seconds: float = 10.0) -> bool:
    """End the recorded process with its group and descendants, or its `leftovers` if it died.

    A running process gets SIGTERM, then SIGKILL after the grace. Leftovers get
    SIGKILL at once: their service crashed, they only hold its ports. Returns
    False when nothing was left to end. Raises `StackError` if something
    survives SIGKILL.
    """
    if is_running(record):
        targets = {pid: stat.start_ticks for pid in _family(record.pid) if (stat := _stat(pid))}
        steps = ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 5.0))
    else:
        targets = leftovers(record)
        steps = ((signal.SIGKILL, 5.0),)
    if not targets:
        _reap(record.pid)
        return False
    for sig, wait_seconds in steps:
        _signal_all(record.pid, targets, sig)
        if _wait_gone(record.pid, targets, wait_seconds):
            _reap(record.pid)
            return True
    raise StackError(f"process {record.pid} ({record.program}) survived SIGKILL")


def _signal_all(pgid: int, targets: Mapping[int, int], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
    for pid in _alive(targets):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _wait_gone(pgid: int, targets: Mapping[int, int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        _reap(pgid)
        if not _alive(targets) and not _group(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _alive(targets: Mapping[int, int]) -> list[int]:
    """The PIDs of `targets` (pid -> start ticks) that have not exited and were not reused."""
    alive = []
    for pid, ticks in targets.items():
        stat = _stat(pid)
        if stat is not None and stat.start_ticks == ticks and _live(pid, stat):
            alive.append(pid)
    return alive


def _live(pid: int, stat: _ProcStat) -> bool:
    """False once the process has exited, zombie or not.

    A multi-threaded process shows its leader as a zombie while its other
    threads still exit, holding its files and ports: it has exited only when
    the leader is a zombie with no other thread left.
    """
    if stat.state != "Z":
        return True
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False


def _family(pid: int) -> set[int]:
    """Live members of the process group led by `pid` plus every descendant of `pid`."""
    stats = _all_stats()
    family = {p for p, stat in stats.items() if stat.pgid == pid}
    if pid in stats:
        family.add(pid)
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, stat in stats.items():
            if stat.ppid == parent and child not in family:
                family.add(child)
                frontier.append(child)
    return {p for p in family if stats[p].state != "Z"}


def _group(pgid: int) -> list[int]:
    return [p for p, stat in _all_stats().items() if stat.pgid == pgid and _live(p, stat)]


def _all_stats() -> dict[int, _ProcStat]:
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            stats[int(entry)] = stat
    return stats


def _stat(pid: int) -> _ProcStat | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    return _ProcStat(
        state=fields[0],
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        session=int(fields[3]),
        start_ticks=int(fields[19]),
    )


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _vm_rss_kib(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _reap(pid: int) -> None:
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]
