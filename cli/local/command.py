"""The `session-sync local` command group: install, up, down, status, reset."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

from cli.local.errors import StackError
from cli.local.faults import FaultControl
from cli.local.stack import LocalStack
from cli.local.status import StackStatus
from shared.settings import load_settings

Handler = Callable[[argparse.Namespace], int]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `local` and its subcommands; each sets `handler` (parsed args -> exit code)."""
    local = subparsers.add_parser(
        "local",
        help="run the pipeline's GCP services locally on real emulators",
        description=(
            "Manage the local stack: Google's Firestore and Pub/Sub emulators, bqemulator and"
            " gcloud-tasks-emulator on 127.0.0.1, with PID files and logs in .local-stack/"
            " and emulator virtualenvs in .tools/ at the project root. Runs in local mode unless"
            " PIPELINE_MODE says otherwise;"
            " ports come from the LOCAL_*_PORT settings."
        ),
    )
    commands = local.add_subparsers(dest="local_command", metavar="COMMAND", required=True)
    _add(commands, "install", _install, "create the emulator virtualenvs in .tools/ if missing")
    _add(
        commands,
        "up",
        _up,
        "start the stack (reusing healthy running services), wait until healthy and create"
        " the topics, dataset, table, view and queue",
    )
    _add(commands, "down", _down, "stop every process the stack started and free its ports")
    status = _add(
        commands,
        "status",
        _status,
        "show each service's pid, health and endpoints and the resource names"
        " (exit 0 when all healthy, 1 otherwise)",
    )
    status.add_argument("--json", action="store_true", help="print machine-readable JSON")
    _add(
        commands,
        "reset",
        _reset,
        "empty Firestore, the sessions table, the topics' backlogs and the retry queue"
        " and clear injected faults, without restarting anything",
    )
    faults = _add(
        commands,
        "faults",
        _faults,
        "show or switch the faults the proxy between the workers and BigQuery injects",
    )
    faults.add_argument("--fail-rate", type=float, help="fail this fraction of requests (0..1)")
    faults.add_argument(
        "--fail-for", type=float, metavar="SECONDS", help="fail every request for this long"
    )
    faults.add_argument("--latency-ms", type=float, help="add this delay to every request")
    faults.add_argument("--clear", action="store_true", help="forward everything again")


def _add(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    handler: Handler,
    text: str,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
    parser.set_defaults(handler=_guarded(handler))
    return parser


def _guarded(handler: Handler) -> Handler:
    """Turn a `StackError` into its message on stderr and exit code 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except StackError as error:
            print(f"session-sync local: {error}", file=sys.stderr)
            return 1

    return run


def _stack() -> LocalStack:
    return LocalStack(load_settings(default_mode="local"), progress=print)


def _install(_args: argparse.Namespace) -> int:
    installed = _stack().install()
    print(f"installed: {', '.join(installed)}" if installed else "emulator virtualenvs up to date")
    return 0


def _up(_args: argparse.Namespace) -> int:
    begin = time.monotonic()
    actions = _stack().up()
    verb = "already up" if set(actions.values()) == {"reused"} else "up"
    print(f"local stack {verb} in {time.monotonic() - begin:.1f} s")
    return 0


def _down(_args: argparse.Namespace) -> int:
    _stack().down()
    print("local stack down")
    return 0


def _status(args: argparse.Namespace) -> int:
    status = LocalStack(load_settings(default_mode="local")).status()
    if args.json:
        print(json.dumps(status.to_json(), indent=2))
    else:
        print(render(status))
    return 0 if status.healthy else 1


def _reset(_args: argparse.Namespace) -> int:
    _stack().reset()
    print("local stack emptied")
    return 0


def _faults(args: argparse.Namespace) -> int:
    control = FaultControl(load_settings(default_mode="local"))
    if args.clear:
        state = control.clear()
    elif args.fail_rate is None and args.fail_for is None and args.latency_ms is None:
        state = control.state()
    else:
        if not 0 <= (args.fail_rate or 0) <= 1:
            print("session-sync local faults: --fail-rate must be within 0..1", file=sys.stderr)
            return 2
        state = control.set(
            fail_rate=args.fail_rate or 0.0,
            fail_for_seconds=args.fail_for,
            latency_ms=args.latency_ms or 0.0,
        )
    print(json.dumps(state, indent=2))
    return 0


def render(status: StackStatus) -> str:
    """The status as a table of services followed by the resource names."""
    rows = [("SERVICE", "PID", "STATE", "RSS MiB", "ENDPOINTS")]
    for service in status.services:
        state = "healthy" if service.healthy else "unhealthy" if service.running else "stopped"
        rows.append(
            (
                service.name,
                str(service.pid or "-"),
                state,
                "-" if service.rss_mib is None else f"{service.rss_mib:.0f}",
                " ".join(f"{label}={where}" for label, where in service.endpoints.items()),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]
    lines.append("")
    names = {"project": status.project, **status.resources, "state": status.state_dir}
    width = max(map(len, names))
    lines.extend(f"{name.ljust(width)}  {value}" for name, value in names.items())
    return "\n".join(lines)
