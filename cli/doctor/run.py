"""Run every check of one doctor run, in order, into a `Report`."""

from __future__ import annotations

from cli.doctor import bigquery, canary, firestore, functions, iam, local_stack, pubsub, salt, tasks
from cli.doctor.context import Clients, Context, failed_read
from cli.doctor.expected import Expected
from cli.doctor.report import Report, State, skip

AREAS = (firestore, pubsub, tasks, bigquery, functions, salt, iam)


def diagnose(
    expected: Expected,
    clients: Clients,
    *,
    with_canary: bool = False,
    canary_timeout: float = 60.0,
) -> Report:
    """Every check; with `with_canary`, the canary last. Never raises for what it checks."""
    settings = expected.settings
    report = Report(settings.mode, settings.project, expected.source)
    ctx = Context(expected, clients)
    if ctx.local:
        down = stack_down(expected)
        if down is not None:
            return down
        report.checks.append(local_stack.emulators(expected))
        report.checks.append(
            ctx.run("local scheduler and fault proxy", lambda: local_stack.helpers(ctx))
        )
    for area in AREAS:
        report.checks.extend(area.checks(ctx))
    if with_canary:
        try:
            checks, result = canary.run(ctx, timeout=canary_timeout)
        except Exception as error:  # the canary could not even be written
            report.checks.append(
                failed_read("canary", error, local=ctx.local, doing="cannot write it")
            )
        else:
            report.checks.extend(checks)
            report.canary = result.to_json()
    return report


def stack_down(expected: Expected) -> Report | None:
    """On the local stack with its emulators silent, the report saying so; else None."""
    if not expected.settings.is_local:
        return None
    check = local_stack.emulators(expected)
    if check.state is not State.FAIL:
        return None
    settings = expected.settings
    report = Report(settings.mode, settings.project, expected.source, [check])
    report.checks.append(skip("other checks", "the local stack is not running"))
    return report
