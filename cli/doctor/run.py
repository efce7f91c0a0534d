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
        stack = local_stack.emulators(ctx)
        report.checks.append(stack)
        if stack.state is State.FAIL:
            report.checks.append(skip("other checks", "the local stack is not running"))
            return report
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
