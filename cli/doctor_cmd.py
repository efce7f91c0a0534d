"""`session-sync doctor`: is the pipeline deployed (or running locally) as it should be?"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from cli import exits
from cli.console import Console
from cli.doctor.context import Clients
from cli.doctor.expected import expected
from cli.doctor.report import Report
from cli.doctor.terraform import read_output
from shared.settings import Settings, load_settings

DEFAULT_CANARY_TIMEOUT = {"local": 30.0, "cloud": 120.0}


def register(commands: Any) -> None:
    """Add `doctor` to the command parser."""
    parser = commands.add_parser(
        "doctor",
        help="check a deployed (or local) pipeline, read-only; --canary sends one session through",
        description=(
            "Check, read-only, that every resource exists with the configuration production"
            " defines (topic, subscriptions with dead-letter and retry policy, queue, table"
            " schema, partitioning, clustering, view, salt version), that each runtime identity"
            " holds the permissions it needs, that push and task audiences agree with what the"
            " workers verify and that the functions refuse unauthenticated requests. Prints a"
            " checklist (✓ passed, ✗ failed with its fix, - skipped with the reason). With"
            " --canary, also writes one synthetic session under the reserved user"
            " session-sync-canary, waits for its row and reports the latency, then deletes it"
            " (the sessions_latest view never shows canaries). Exit 0 when nothing failed, 1"
            " when a check failed, 2 on usage or configuration errors."
        ),
    )
    parser.add_argument(
        "--terraform-output",
        type=Path,
        metavar="FILE",
        help="the JSON of `terraform output -json`: settings (operator_env) and the expected"
        " names, identities, URLs and audiences",
    )
    parser.add_argument(
        "--canary",
        action="store_true",
        help="write one synthetic session, wait for its row, report the latency, delete it",
    )
    parser.add_argument(
        "--canary-timeout",
        type=float,
        metavar="SECONDS",
        help="how long to wait for the canary's row (default 30 locally, 120 in the cloud)",
    )
    parser.add_argument("--json", action="store_true", help="print the checklist as JSON")
    parser.set_defaults(handler=exits.guarded("doctor", run))


def run(args: argparse.Namespace) -> int:
    """Entry point: settings (and terraform's outputs), the real clients, every check."""
    if args.canary_timeout is not None and args.canary_timeout <= 0:
        raise exits.UsageError("--canary-timeout must be positive")
    terraform = read_output(args.terraform_output) if args.terraform_output else None
    environ = {**os.environ, **terraform.env()} if terraform else None
    settings = load_settings(environ)
    settings.require_project()
    wanted = expected(settings, terraform)
    from cli.doctor.run import diagnose, stack_down

    report = stack_down(wanted)  # a stopped local stack: one ✗, and no client is built
    if report is None:
        timeout = args.canary_timeout or DEFAULT_CANARY_TIMEOUT[settings.mode]
        report = diagnose(
            wanted, real_clients(settings), with_canary=args.canary, canary_timeout=timeout
        )
    return show(report, Console(), as_json=args.json)


def show(report: Report, console: Console, *, as_json: bool) -> int:
    """Print the checklist (or its JSON) on stdout; return the exit code."""
    if as_json:
        console.emit(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        for line in report.lines():
            console.emit(line)
    return report.exit_code


def real_clients(settings: Settings) -> Clients:
    """The official clients for the emulators or GCP (application-default credentials)."""
    from shared.gcp import clients

    if settings.is_local:
        from cli.local.net import http_status

        class LocalHttp:
            def status(self, method: str, url: str) -> int | None:
                return http_status(method, url)

        http: Any = LocalHttp()
        rest = None
    else:
        from cli.doctor.rest import GoogleRest, PlainHttp

        http = PlainHttp()
        rest = GoogleRest.from_default_credentials()
    return Clients(
        publisher=clients.publisher_client(settings),
        subscriber=clients.subscriber_client(settings),
        tasks=clients.tasks_client(settings),
        bigquery=clients.bigquery_client(settings),
        firestore=clients.firestore_client(settings),
        http=http,
        rest=rest,
    )
