"""Ask before a write-like command acts: on a terminal a y/N question, elsewhere `--yes`.

Without a terminal there is nobody to answer, so a command that would publish
refuses (exit 2) unless `--yes` states the intent: a cron job or CI step must
say `--yes` explicitly, and a forgotten flag publishes nothing.
"""

from __future__ import annotations

import sys
from typing import TextIO

from cli.exits import UsageError

YES = frozenset({"y", "yes"})


def confirm(
    question: str,
    *,
    assume_yes: bool,
    stdin: TextIO | None = None,
    stderr: TextIO | None = None,
) -> bool:
    """Return True when the operator agreed (or passed `--yes`), False when they declined.

    Asks `question [y/N]` on stderr and reads one line when stdin is a
    terminal. Raises `UsageError` when stdin is not a terminal and `assume_yes`
    is False. An empty answer or end of input counts as no.
    """
    if assume_yes:
        return True
    stdin = stdin or sys.stdin
    stderr = stderr or sys.stderr
    if not stdin.isatty():
        raise UsageError("not a terminal, so nobody can confirm: pass --yes to proceed")
    stderr.write(f"{question} [y/N] ")
    stderr.flush()
    answer = stdin.readline()
    return answer.strip().lower() in YES
