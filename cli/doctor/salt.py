"""The salt: its pinned Secret Manager version exists, is the one both workers read, and is
the one the operator reads for reconcile."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Iterator
from typing import Any

from google.api_core import exceptions as gexc

from cli.doctor.context import Context
from cli.doctor.report import Check, fail, local_skip, ok, skip
from cli.doctor.workers import function

SECRETS_API = "https://secretmanager.googleapis.com/v1"
WORKERS = {"sync_worker": "sync worker", "retry_worker": "retry worker"}


def checks(ctx: Context) -> Iterator[Check]:
    if ctx.local:
        yield local_skip(
            "salt",
            "there is no Secret Manager; the local workers and commands use the fixed local"
            " development salt",
        )
        return
    deployment = ctx.expected.deployment
    if not deployment.salt_secret or not deployment.salt_secret_version:
        yield skip(
            "salt", "the secret's name or pinned version is unknown (give --terraform-output)"
        )
        return
    yield ctx.run("salt secret version", lambda: _version(ctx))
    yield ctx.run("salt version of the workers", lambda: _workers(ctx))
    yield ctx.run("operator's salt", lambda: _operator(ctx))


def _version_path(ctx: Context) -> str:
    deployment = ctx.expected.deployment
    return (
        f"projects/{ctx.expected.project}/secrets/{deployment.salt_secret}"
        f"/versions/{deployment.salt_secret_version}"
    )


def _version(ctx: Context) -> Check:
    rest = ctx.clients.rest
    assert rest is not None
    path = _version_path(ctx)
    deployment = ctx.expected.deployment
    try:
        version: dict[str, Any] = rest.get(f"{SECRETS_API}/{path}")
    except gexc.NotFound:
        return fail(
            "salt secret version",
            f"{path} does not exist: the workers cannot start",
            f"add it: `gcloud secrets versions add {deployment.salt_secret}"
            f" --project={ctx.expected.project} --data-file=salt.txt` (README, Deploy to GCP,"
            " step 3)",
        )
    state = version.get("state", "ENABLED")
    if state != "ENABLED":
        return fail(
            "salt secret version",
            f"{path} is {state}: the workers cannot read the salt",
            f"`gcloud secrets versions enable {deployment.salt_secret_version}"
            f" --secret={deployment.salt_secret} --project={ctx.expected.project}` (a destroyed"
            " version is gone: restore the salt from your copy as a new version and pin it)",
        )
    return ok("salt secret version", f"{path} is enabled")


def _workers(ctx: Context) -> Check:
    deployment = ctx.expected.deployment
    wanted = (deployment.salt_secret, deployment.salt_secret_version)
    wrong = []
    for key, label in WORKERS.items():
        secrets = function(ctx, key).get("serviceConfig", {}).get("secretEnvironmentVariables", [])
        salt = next((item for item in secrets if item.get("key") == "PSEUDONYMIZATION_SALT"), None)
        if salt is None:
            wrong.append(f"the {label} reads no salt secret")
        elif (salt.get("secret"), str(salt.get("version"))) != wanted:
            wrong.append(f"the {label} reads version {salt.get('version')} of {salt.get('secret')}")
    if wrong:
        return fail(
            "salt version of the workers",
            f"{'; '.join(wrong)}; the operator reads version {wanted[1]} of {wanted[0]}:"
            " user_id_hash would differ",
            "run `terraform apply` (salt_secret_version pins one version for both workers"
            " and the operator)",
        )
    return ok(
        "salt version of the workers",
        f"both workers read version {wanted[1]} of {wanted[0]}, the one operators read",
    )


def _operator(ctx: Context) -> Check:
    salt = ctx.expected.settings.salt
    if salt is None:
        return skip(
            "operator's salt",
            "PSEUDONYMIZATION_SALT is not set here (only reconcile and redrive need it)",
        )
    rest = ctx.clients.rest
    assert rest is not None
    payload = rest.get(f"{SECRETS_API}/{_version_path(ctx)}:access").get("payload", {})
    secret = base64.b64decode(payload.get("data", ""))
    deployment = ctx.expected.deployment
    if not hmac.compare_digest(secret, salt.encode("utf-8")):
        return fail(
            "operator's salt",
            f"PSEUDONYMIZATION_SALT differs from version {deployment.salt_secret_version} of"
            f" {deployment.salt_secret}: reconcile would compute other user_id_hash values",
            f'export PSEUDONYMIZATION_SALT="$(gcloud secrets versions access'
            f" {deployment.salt_secret_version} --secret={deployment.salt_secret}"
            f' --project={ctx.expected.project})"',
        )
    return ok(
        "operator's salt",
        f"PSEUDONYMIZATION_SALT is version {deployment.salt_secret_version} of"
        f" {deployment.salt_secret}",
    )
