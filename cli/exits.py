"""Exit codes of the operator commands, and the guard that maps errors onto them."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from shared.errors import PipelineError

OK = 0
FAILED = 1  # a dependency failed, reconcile found an inconsistency, or the operator declined
INTERRUPTED = 130  # Ctrl-C
USAGE = 2  # bad arguments, or a write-like command not confirmed on a non-terminal

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """The command line is wrong (or cannot be acted on as given): exit 2."""


def guarded(command: str, handler: Handler) -> Handler:
    """Wrap a handler: `UsageError` -> message and exit 2, `PipelineError` -> message and exit 1.

    A closed stdout (`| head`) ends the command quietly with exit 1.
    """

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except UsageError as error:
            print(f"session-sync {command}: {error}", file=sys.stderr)
            return USAGE
        except PipelineError as error:
            print(f"session-sync {command}: failed: {error}", file=sys.stderr)
            return FAILED
        except BrokenPipeError:
            # The reader of stdout (`| head`) left: stop quietly, as other tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return FAILED

    return run
