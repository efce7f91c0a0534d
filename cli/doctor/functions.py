"""The three functions: deployed as terraform says, reachable, and closed to anonymous callers."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from google.api_core import exceptions as gexc

from cli.doctor.context import Context
from cli.doctor.report import Check, fail, local_skip, ok, skip
from cli.doctor.workers import function, function_url
from cli.local.net import HOST

LABELS = {"trigger": "trigger", "sync_worker": "sync worker", "retry_worker": "retry worker"}
LOCAL_PORTS = {
    "trigger": "LOCAL_TRIGGER_PORT",
    "sync_worker": "LOCAL_SYNC_WORKER_PORT",
    "retry_worker": "LOCAL_RETRY_WORKER_PORT",
}


def checks(ctx: Context) -> Iterator[Check]:
    if ctx.local:
        yield ctx.run("functions answer", lambda: _local_servers(ctx))
        yield local_skip(
            "functions refuse unauthenticated requests",
            "the local servers run with AUTH_DISABLED (the emulators send no OIDC tokens)",
        )
        return
    for key, label in LABELS.items():
        yield ctx.run(f"function {label}", partial(_deployed, ctx, key))
    for key, label in LABELS.items():
        yield ctx.run(f"{label} refuses unauthenticated requests", partial(_closed, ctx, key))


def _local_servers(ctx: Context) -> Check:
    ports = ctx.expected.settings.local_ports
    silent = []
    for key, setting in LOCAL_PORTS.items():
        url = f"http://{HOST}:{ports[setting]}/"
        if ctx.clients.http.status("GET", url) is None:
            silent.append(f"{LABELS[key]} ({url})")
    if silent:
        return fail(
            "functions answer",
            f"nothing answers at {', '.join(silent)}",
            "run `session-sync local up` (`session-sync local status` shows which is down)",
        )
    urls = ", ".join(f"{HOST}:{ports[setting]}" for setting in LOCAL_PORTS.values())
    return ok("functions answer", f"trigger, sync worker and retry worker on {urls}")


def _deployed(ctx: Context, key: str) -> Check:
    name = f"function {LABELS[key]}"
    deployment = ctx.expected.deployment
    try:
        config = function(ctx, key)
    except LookupError as error:
        return skip(name, f"{error} (give --terraform-output)")
    except gexc.NotFound:
        return fail(
            name,
            f"{deployment.function_names.get(key)} is not deployed in {deployment.region}",
            ctx.recreate_fix("the function", missing=True),
        )
    problems = []
    state = config.get("state", "ACTIVE")
    if state != "ACTIVE":
        problems.append(f"state {state}")
    url = function_url(config)
    wanted_url = deployment.function_urls.get(key)
    if wanted_url and url != wanted_url:
        problems.append(f"URL {url}, terraform output says {wanted_url}")
    service = config.get("serviceConfig", {})
    account = service.get("serviceAccountEmail")
    wanted_account = deployment.service_accounts.get(key)
    if wanted_account and account != wanted_account:
        problems.append(f"runs as {account}, not {wanted_account}")
    ingress = service.get("ingressSettings")
    if deployment.ingress and ingress and ingress != deployment.ingress:
        problems.append(f"ingress {ingress}, not {deployment.ingress}")
    if problems:
        return fail(
            name, f"{config.get('name')}: {'; '.join(problems)}", ctx.recreate_fix("the function")
        )
    return ok(name, f"{url} runs as {account}, ingress {ingress}")


def _closed(ctx: Context, key: str) -> Check:
    name = f"{LABELS[key]} refuses unauthenticated requests"
    try:
        config = function(ctx, key)
        url = function_url(config)
        ingress = config.get("serviceConfig", {}).get("ingressSettings")
    except Exception:
        url, ingress = (
            ctx.expected.deployment.function_urls.get(key),
            ctx.expected.deployment.ingress,
        )
    if not url:
        return skip(name, "its URL is unknown (give --terraform-output)")
    status = ctx.clients.http.status("POST", url)
    if status in (401, 403):
        return ok(name, f"{url} answers {status} without a token: reachable, and closed")
    if status == 404 and ingress == "ALLOW_INTERNAL_ONLY":
        return skip(
            name,
            f"{url} answers 404 here: its ingress admits only traffic from the project's"
            " network (ALLOW_INTERNAL_ONLY); run doctor from a VM in that network to check",
        )
    if status is None:
        return fail(
            name,
            f"nothing answers at {url}",
            "check the function's state in the console and `terraform apply`",
        )
    return fail(
        name,
        f"{url} answers {status} to a request without a token: anyone can call it",
        "remove allUsers/allAuthenticatedUsers from its invokers: `terraform apply` keeps"
        " exactly one invoker per function",
    )
