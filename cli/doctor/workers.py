"""What the workers verify and where they are: from the deployed functions, else terraform.

In the cloud the source of truth is each function's own configuration (its URL,
service account and environment, read from the Cloud Functions API); terraform's
outputs and the settings stand in when the function cannot be read. On the local
stack it is the settings the stack's servers inherit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cli.doctor.context import Context

FUNCTIONS_API = "https://cloudfunctions.googleapis.com/v2"


@dataclass(frozen=True)
class Verification:
    """Where a worker is, and the OIDC audience and account it accepts (None: unknown)."""

    url: str | None
    audience: str | None
    service_account: str | None
    source: str


def function_path(ctx: Context, key: str) -> str | None:
    deployment = ctx.expected.deployment
    name = deployment.function_names.get(key)
    if name is None or deployment.region is None:
        return None
    return f"projects/{ctx.expected.project}/locations/{deployment.region}/functions/{name}"


def function(ctx: Context, key: str) -> dict[str, Any]:
    """The deployed function's resource (Cloud Functions v2), read once; raises on errors."""
    path = function_path(ctx, key)
    rest = ctx.clients.rest
    if path is None or rest is None:
        raise LookupError(f"the {key} function's name or region is unknown")
    return dict(ctx.once(f"function {key}", lambda: rest.get(f"{FUNCTIONS_API}/{path}")))


def readable_function(ctx: Context, key: str) -> dict[str, Any] | None:
    """`function`, or None when it cannot be read (its own check reports why)."""
    try:
        return function(ctx, key)
    except Exception:
        return None


def function_url(config: dict[str, Any]) -> str | None:
    url = config.get("url") or config.get("serviceConfig", {}).get("uri")
    return str(url) if url else None


def function_env(config: dict[str, Any]) -> dict[str, str]:
    return dict(config.get("serviceConfig", {}).get("environmentVariables") or {})


def push_verification(ctx: Context) -> Verification:
    """What the sync worker accepts from Pub/Sub push."""
    settings = ctx.expected.settings
    if ctx.local:
        return Verification(
            ctx.expected.local_sync_worker_url,
            settings.push_audience,
            settings.push_service_account,
            "PUSH_AUDIENCE/PUSH_SERVICE_ACCOUNT settings",
        )
    return _cloud(ctx, "sync_worker", "PUSH_AUDIENCE", "PUSH_SERVICE_ACCOUNT", "push_invoker")


def tasks_verification(ctx: Context) -> Verification:
    """What the retry worker accepts from Cloud Tasks and Cloud Scheduler."""
    settings = ctx.expected.settings
    if ctx.local:
        return Verification(
            settings.retry_worker_url,
            settings.tasks_audience,
            settings.tasks_service_account,
            "RETRY_WORKER_URL/TASKS_AUDIENCE settings",
        )
    return _cloud(ctx, "retry_worker", "TASKS_AUDIENCE", "TASKS_SERVICE_ACCOUNT", "tasks_invoker")


def _cloud(ctx: Context, key: str, audience: str, account: str, invoker: str) -> Verification:
    deployment = ctx.expected.deployment
    config = readable_function(ctx, key)
    if config is not None:
        env = function_env(config)
        return Verification(
            function_url(config),
            env.get(audience, ""),
            env.get(account, ""),
            f"the {key.replace('_', ' ')} function's {audience}/{account}",
        )
    wanted = deployment.push_audience if key == "sync_worker" else deployment.tasks_audience
    return Verification(
        deployment.function_urls.get(key),
        wanted,
        deployment.service_accounts.get(invoker),
        "terraform output" if ctx.expected.terraform else "settings",
    )
