"""`session-sync`: the operator command line (transform, local stack, replay, ...)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli import exits, transform_cmd, worker_cmd
from shared.errors import ConfigError
from shared.logging import configure_logging
from shared.settings import log_level

USAGE_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """The full parser, one sub-command per operator task."""
    parser = argparse.ArgumentParser(
        prog="session-sync",
        description="Stream completed sessions from Firestore into BigQuery, and operate it.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _command_modules():
        module.register(commands)
    return parser


def _command_modules() -> list[object]:
    import cli.cost_cmd
    from cli import (
        backfill_cmd,
        demo_cmd,
        doctor_cmd,
        failures_cmd,
        reconcile_cmd,
        redrive_cmd,
        replay_cmd,
        status_cmd,
    )
    from cli.local import command as local_command

    return [
        transform_cmd,
        local_command,
        worker_cmd,
        replay_cmd,
        backfill_cmd,
        failures_cmd,
        reconcile_cmd,
        redrive_cmd,
        demo_cmd,
        cli.cost_cmd,
        doctor_cmd,
        status_cmd,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; exit 0 on success, 1 on failure, 2 on usage or configuration errors.

    The pipeline's own log lines go to stderr as JSON, warnings and errors only unless
    LOG_LEVEL says otherwise: stdout carries the commands' data.
    """
    configure_logging(log_level("WARNING"))
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigError as error:
        print(exits.config_error_line(error), file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("session-sync: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        # Commands without their own guard (worker pull, ...): the same one-line messages.
        problem = exits.explain(error, local=exits.local_mode())
        if problem is None:
            raise
        print(f"session-sync {args.command}: {problem}", file=sys.stderr)
        return problem.code
    return code


if __name__ == "__main__":
    sys.exit(main())
