"""The local stack: its emulators answer, and so do the scheduler and the fault proxy."""

from __future__ import annotations

from cli.doctor.context import Context
from cli.doctor.expected import Expected
from cli.doctor.report import Check, fail, ok
from cli.exits import LOCAL_UP
from cli.local.services import pipeline_services
from cli.preflight import emulator_hosts, silent_emulators

HELPERS = ("fault-proxy", "scheduler")


def emulators(expected: Expected) -> Check:
    """✓ when all four emulators accept connections; the other checks need them."""
    settings = expected.settings
    silent = silent_emulators(settings, emulator_hosts(settings))
    if silent:
        return fail(
            "local emulators",
            f"the local stack is not running: nothing answers at {', '.join(silent)}",
            LOCAL_UP,
        )
    hosts = ", ".join(f"{name} {host}" for name, host in emulator_hosts(settings).items())
    return ok("local emulators", hosts)


def helpers(ctx: Context) -> Check:
    """The scheduler (redrive, reconcile) and the fault proxy in front of BigQuery."""
    silent: list[str] = []
    found: list[str] = []
    for spec in pipeline_services(ctx.expected.settings):
        if spec.name in HELPERS and spec.health_url:
            status = ctx.clients.http.status("GET", spec.health_url)
            (found if status is not None and 200 <= status < 300 else silent).append(
                f"{spec.name} ({spec.health_url})"
            )
    if silent:
        return fail(
            "local scheduler and fault proxy",
            f"not answering: {', '.join(silent)} (no self-healing rounds, or no BigQuery for"
            " the workers)",
            LOCAL_UP,
        )
    return ok("local scheduler and fault proxy", ", ".join(found))
