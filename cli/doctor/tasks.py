"""Cloud Tasks and Cloud Scheduler: the retry queue's rate and retry config, and who the
retries and the scheduled jobs call, with which audience."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from google.api_core import exceptions as gexc

from cli.doctor.context import Context
from cli.doctor.report import Check, fail, local_skip, ok, skip
from cli.doctor.workers import function, function_env, tasks_verification
from cli.local.net import HOST
from shared.gcp.clients import queue_path

SCHEDULER_API = "https://cloudscheduler.googleapis.com/v1"


def checks(ctx: Context) -> Iterator[Check]:
    yield ctx.run("retry queue", lambda: _queue(ctx))
    yield ctx.run("retry target", lambda: _target(ctx))
    if ctx.local:
        yield local_skip(
            "scheduled jobs",
            "the local scheduler calls the retry worker without tokens; the jobs' OIDC"
            " audience is checked in the cloud",
        )
    else:
        for job in ctx.expected.deployment.scheduler_jobs:
            yield ctx.run(f"scheduled job {job}", partial(_job, ctx, job))


def _queue(ctx: Context) -> Check:
    path = queue_path(ctx.expected.settings)
    policy = ctx.expected.queue
    try:
        queue = ctx.clients.tasks.get_queue(name=path, timeout=20)
    except gexc.NotFound:
        return fail(
            "retry queue",
            f"{path} does not exist (TASKS_QUEUE)",
            ctx.recreate_fix("the queue", missing=True),
        )
    retry = queue.retry_config
    found = {
        "dispatches/s": queue.rate_limits.max_dispatches_per_second,
        "max attempts": retry.max_attempts,
        "min backoff s": retry.min_backoff.total_seconds(),
        "max backoff s": retry.max_backoff.total_seconds(),
        "doublings": retry.max_doublings,
    }
    wanted = {
        "dispatches/s": policy.max_dispatches_per_second,
        "max attempts": policy.max_retries,
        "min backoff s": policy.min_backoff_seconds,
        "max backoff s": policy.max_backoff_seconds,
        "doublings": policy.max_doublings,
    }
    wrong = [f"{k} {found[k]:g}, not {wanted[k]:g}" for k in wanted if found[k] != wanted[k]]
    state = getattr(queue.state, "name", "RUNNING") if queue.state else "RUNNING"
    if state != "RUNNING":
        wrong.append(f"state {state}: retries wait until it runs")
    if wrong:
        fix = ctx.recreate_fix("the queue (shared/queue_policy.py)")
        if state == "PAUSED":
            fix = f"resume it: `gcloud tasks queues resume {queue.name.rsplit('/', 1)[-1]}`; {fix}"
        return fail("retry queue", f"{path}: {'; '.join(wrong)}", fix)
    return ok(
        "retry queue",
        f"{policy.max_dispatches_per_second:g}/s, {policy.max_retries} attempts, backoff"
        f" {policy.min_backoff_seconds:g} s to {policy.max_backoff_seconds:g} s with"
        f" {policy.max_doublings} doublings (shared/queue_policy.py)",
    )


def _target(ctx: Context) -> Check:
    """The sync worker's tasks go to the retry worker, with the audience it verifies."""
    verified = tasks_verification(ctx)
    settings = ctx.expected.settings
    if ctx.local:
        wanted = f"http://{HOST}:{settings.local_ports['LOCAL_RETRY_WORKER_PORT']}/"
        problems = []
        if settings.retry_worker_url.rstrip("/") != wanted.rstrip("/"):
            problems.append(f"RETRY_WORKER_URL is {settings.retry_worker_url}, not {wanted}")
        if settings.tasks_audience != settings.retry_worker_url:
            problems.append(
                f"TASKS_AUDIENCE is {settings.tasks_audience}, the retry worker's URL is"
                f" {settings.retry_worker_url}"
            )
        if problems:
            return fail(
                "retry target",
                "; ".join(problems),
                "unset RETRY_WORKER_URL and TASKS_AUDIENCE (the local defaults agree), then"
                " `session-sync local down` and `session-sync local up`",
            )
        return ok("retry target", f"tasks go to the local retry worker {wanted}")
    try:
        sync_env = function_env(function(ctx, "sync_worker"))
    except Exception as error:
        return skip("retry target", f"cannot read the sync worker function ({error})")
    sent = {
        "URL": sync_env.get("RETRY_WORKER_URL", ""),
        "audience": sync_env.get("TASKS_AUDIENCE", ""),
        "service account": sync_env.get("TASKS_SERVICE_ACCOUNT", ""),
    }
    accepted = {
        "URL": verified.url,
        "audience": verified.audience,
        "service account": verified.service_account,
    }
    wrong = [
        f"the sync worker sends {label} {sent[label] or '(none)'}, the retry worker expects"
        f" {wanted}"
        for label, wanted in accepted.items()
        if wanted is not None and sent[label].rstrip("/") != wanted.rstrip("/")
    ]
    if wrong:
        return fail(
            "retry target",
            f"{'; '.join(wrong)} ({verified.source})",
            "run `terraform apply`: it gives both workers the same tasks_audience and"
            " tasks-invoker account",
        )
    return ok(
        "retry target",
        f"tasks go to {sent['URL']} as {sent['service account']}, audience {sent['audience']}",
    )


def _job(ctx: Context, job: str) -> Check:
    name = f"scheduled job {job}"
    deployment = ctx.expected.deployment
    rest = ctx.clients.rest
    region = deployment.scheduler_region
    if rest is None or region is None:
        return skip(name, "the scheduler region is unknown")
    path = (
        f"projects/{ctx.expected.project}/locations/{region}/jobs/{deployment.scheduler_jobs[job]}"
    )
    try:
        body: dict[str, Any] = rest.get(f"{SCHEDULER_API}/{path}")
    except gexc.NotFound:
        return fail(
            name,
            f"{path} does not exist: nothing runs /{job}",
            ctx.recreate_fix("the job", missing=True),
        )
    target = body.get("httpTarget", {})
    token = target.get("oidcToken", {})
    verified = tasks_verification(ctx)
    wrong = []
    if verified.url and target.get("uri", "").rstrip("/") != f"{verified.url.rstrip('/')}/{job}":
        wrong.append(f"calls {target.get('uri')}, not {verified.url.rstrip('/')}/{job}")
    if verified.audience is not None and token.get("audience", "") != verified.audience:
        wrong.append(
            f"token audience {token.get('audience') or '(none)'}, the retry worker expects"
            f" {verified.audience}"
        )
    if (
        verified.service_account is not None
        and token.get("serviceAccountEmail", "") != verified.service_account
    ):
        wrong.append(
            f"token for {token.get('serviceAccountEmail') or '(none)'}, not"
            f" {verified.service_account}"
        )
    if body.get("state", "ENABLED") != "ENABLED":
        wrong.append(f"state {body.get('state')}")
    if wrong:
        return fail(name, f"{path}: {'; '.join(wrong)}", ctx.recreate_fix("the job"))
    return ok(name, f"{body.get('schedule', '?')} -> {target.get('uri')}, audience as expected")
