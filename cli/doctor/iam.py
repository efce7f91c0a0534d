"""IAM: each runtime identity holds the permissions it needs, and so does the operator.

An API's testIamPermissions answers for the caller only, so the runtime identities
are checked by reading each resource's IAM policy and expanding the roles bound to
the identity into their permissions (IAM roles.get); the operator's own
permissions are checked with testIamPermissions wherever the API has it. Policies
the operator may not read (the project's, the Cloud Run services', the service
accounts') are reported as not checked, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from cli import exits
from cli.doctor.context import Context
from cli.doctor.report import Check, fail, local_skip, ok, skip
from cli.doctor.salt import SECRETS_API
from cli.doctor.workers import function_env, readable_function
from shared.gcp.clients import queue_path

IAM_API = "https://iam.googleapis.com/v1"
RUN_API = "https://run.googleapis.com/v2"
PROJECTS_V1 = "https://cloudresourcemanager.googleapis.com/v1"
PROJECTS_V3 = "https://cloudresourcemanager.googleapis.com/v3"
FIRESTORE = (
    "datastore.entities.get",
    "datastore.entities.list",
    "datastore.entities.create",
    "datastore.entities.update",
)
LABELS = {
    "trigger": "trigger",
    "sync_worker": "sync worker",
    "retry_worker": "retry worker",
    "push_invoker": "push invoker",
    "tasks_invoker": "tasks invoker",
    "pubsub_agent": "Pub/Sub service agent",
}
FIX = (
    "run `terraform apply` in terraform/ (each grant is beside its resource: pubsub.tf, tasks.tf,"
    " bigquery.tf, secrets.tf, functions.tf, service_accounts.tf)"
)


@dataclass(frozen=True)
class Need:
    """Permissions one identity needs on one resource."""

    identity: str
    what: str  # for people: "the topic", "the sessions table", ...
    kind: str  # how to read the resource's policy
    name: str
    permissions: tuple[str, ...]


def checks(ctx: Context) -> Iterator[Check]:
    if ctx.local:
        yield local_skip(
            "IAM",
            "the emulators have no IAM (their getIamPolicy and testIamPermissions are not"
            " implemented); every call is allowed",
        )
        return
    identities = ctx.once("identities", lambda: _identities(ctx))
    needs = _needs(ctx, identities)
    for identity, label in LABELS.items():
        name = f"IAM {label}"
        email = identities.get(identity)
        if not email:
            yield skip(name, "its account is unknown (give --terraform-output)")
            continue
        mine = [need for need in needs if need.identity == identity]
        yield ctx.run(name, partial(_identity, ctx, name, email, mine))
    yield ctx.run("operator permissions", lambda: _operator(ctx))


def _identities(ctx: Context) -> dict[str, str]:
    """Service account email of each identity: terraform output, else the functions."""
    found = dict(ctx.expected.deployment.service_accounts)
    for key in ("trigger", "sync_worker", "retry_worker"):
        config = readable_function(ctx, key)
        if config and key not in found:
            account = config.get("serviceConfig", {}).get("serviceAccountEmail")
            if account:
                found[key] = account
    for key, worker, setting in (
        ("push_invoker", "sync_worker", "PUSH_SERVICE_ACCOUNT"),
        ("tasks_invoker", "retry_worker", "TASKS_SERVICE_ACCOUNT"),
    ):
        config = readable_function(ctx, worker)
        if config and key not in found and function_env(config).get(setting):
            found[key] = function_env(config)[setting]
    rest = ctx.clients.rest
    if rest is not None:
        try:
            number = rest.get(f"{PROJECTS_V3}/projects/{ctx.expected.project}")["name"]
            found["pubsub_agent"] = (
                f"service-{number.rsplit('/', 1)[-1]}@gcp-sa-pubsub.iam.gserviceaccount.com"
            )
        except Exception:
            pass
    return found


def _needs(ctx: Context, identities: dict[str, str]) -> list[Need]:
    expected = ctx.expected
    settings = expected.settings
    project = expected.project
    topic = expected.topic_path()
    dead_letters = expected.topic_path(settings.dead_letter_topic)
    push = expected.subscription_path(settings.push_subscription)
    secret = f"projects/{project}/secrets/{expected.deployment.salt_secret}"
    queue = queue_path(settings)
    needs = [
        Need("trigger", "the topic", "topic", topic, ("pubsub.topics.publish",)),
        Need(
            "sync_worker", "the table", "table", settings.table_id, ("bigquery.tables.updateData",)
        ),
        Need("sync_worker", "the queue", "queue", queue, ("cloudtasks.tasks.create",)),
        Need("sync_worker", "the salt", "secret", secret, ("secretmanager.versions.access",)),
        Need("sync_worker", "Firestore", "project", project, FIRESTORE),
        Need(
            "retry_worker",
            "the table",
            "table",
            settings.table_id,
            ("bigquery.tables.updateData", "bigquery.tables.getData"),
        ),
        Need(
            "retry_worker",
            "the view",
            "table",
            settings.latest_view_id,
            ("bigquery.tables.getData",),
        ),
        Need("retry_worker", "query jobs", "project", project, ("bigquery.jobs.create",)),
        Need("retry_worker", "the topic", "topic", topic, ("pubsub.topics.publish",)),
        Need("retry_worker", "the salt", "secret", secret, ("secretmanager.versions.access",)),
        Need("retry_worker", "Firestore", "project", project, FIRESTORE),
        Need(
            "pubsub_agent",
            "the dead-letter topic",
            "topic",
            dead_letters,
            ("pubsub.topics.publish",),
        ),
        Need(
            "pubsub_agent",
            "the push subscription",
            "subscription",
            push,
            ("pubsub.subscriptions.consume",),
        ),
    ]
    if identities.get("tasks_invoker"):
        account = f"projects/-/serviceAccounts/{identities['tasks_invoker']}"
        needs.append(
            Need(
                "sync_worker",
                "the tasks invoker",
                "account",
                account,
                ("iam.serviceAccounts.actAs",),
            )
        )
    deployment = expected.deployment
    for identity, worker in (("push_invoker", "sync_worker"), ("tasks_invoker", "retry_worker")):
        name = deployment.function_names.get(worker)
        if name and deployment.region:
            service = f"projects/{project}/locations/{deployment.region}/services/{name}"
            needs.append(
                Need(
                    identity,
                    f"the {worker.replace('_', ' ')}",
                    "run",
                    service,
                    ("run.routes.invoke",),
                )
            )
    return needs


def _bindings(ctx: Context, kind: str, name: str) -> list[tuple[str, set[str]]]:
    """(role, members) of the resource's IAM policy, read once."""

    def read() -> list[tuple[str, set[str]]]:
        clients, rest = ctx.clients, ctx.clients.rest
        if kind == "topic":
            policy = clients.publisher.get_iam_policy(request={"resource": name}, timeout=20)
        elif kind == "subscription":
            policy = clients.subscriber.get_iam_policy(request={"resource": name}, timeout=20)
        elif kind == "queue":
            policy = clients.tasks.get_iam_policy(request={"resource": name}, timeout=20)
        elif kind == "table":
            policy = clients.bigquery.get_iam_policy(name, timeout=20)
            return [(b["role"], set(b["members"])) for b in policy.bindings]
        elif rest is None:
            raise LookupError("no REST access")
        elif kind == "secret":
            return _json_bindings(rest.get(f"{SECRETS_API}/{name}:getIamPolicy"))
        elif kind == "run":
            return _json_bindings(rest.get(f"{RUN_API}/{name}:getIamPolicy"))
        elif kind == "account":
            return _json_bindings(rest.post(f"{IAM_API}/{name}:getIamPolicy", {}))
        else:
            body = {"options": {"requestedPolicyVersion": 3}}
            return _json_bindings(rest.post(f"{PROJECTS_V1}/projects/{name}:getIamPolicy", body))
        return [(binding.role, set(binding.members)) for binding in policy.bindings]

    return list(ctx.once(f"policy {kind} {name}", read))


def _json_bindings(policy: dict[str, Any]) -> list[tuple[str, set[str]]]:
    return [(b.get("role", ""), set(b.get("members", []))) for b in policy.get("bindings", [])]


def _permissions(ctx: Context, role: str) -> set[str]:
    rest = ctx.clients.rest
    if rest is None:
        return set()
    body = ctx.once(f"role {role}", lambda: rest.get(f"{IAM_API}/{role}"))
    return set(body.get("includedPermissions", []))


def _granted(ctx: Context, member: str, bindings: Iterable[tuple[str, set[str]]]) -> set[str]:
    granted: set[str] = set()
    for role, members in bindings:
        if member in members:
            granted |= _permissions(ctx, role)
    return granted


def _identity(ctx: Context, name: str, email: str, needs: list[Need]) -> Check:
    member = f"serviceAccount:{email}"
    try:
        project_roles: list[tuple[str, set[str]]] | None = _bindings(
            ctx, "project", ctx.expected.project
        )
        project_error = ""
    except Exception as error:
        project_roles, project_error = None, _why(error)
    missing, unread, fine = [], [], []
    for need in needs:
        if need.kind == "project":
            if project_roles is None:
                unread.append(f"{need.what} ({project_error})")
                continue
            granted = _granted(ctx, member, project_roles)
        else:
            try:
                granted = _granted(ctx, member, _bindings(ctx, need.kind, need.name))
            except Exception as error:
                unread.append(f"{need.what} ({_why(error)})")
                continue
            # Roles on the project reach every resource in it.
            granted |= _granted(ctx, member, project_roles or [])
        lacking = [p for p in need.permissions if p not in granted]
        if lacking:
            missing.append(f"{', '.join(lacking)} on {need.what} ({need.name})")
        else:
            fine.append(need.what)
    not_checked = f"; not checked: {', '.join(unread)}" if unread else ""
    if missing:
        return fail(name, f"{email} lacks {'; '.join(missing)}{not_checked}", FIX)
    if not fine:
        return skip(name, f"{email}: cannot read the IAM policies of {', '.join(unread)}")
    return ok(name, f"{email} may use {', '.join(fine)}{not_checked}")


def _why(error: Exception) -> str:
    problem = exits.explain(error, local=False)
    if problem is not None and "permission denied" in problem.cause:
        return "its policy is not readable by your account"
    return type(error).__name__


# What the operator commands do, as permissions on each resource (testIamPermissions).
def _operator_needs(ctx: Context) -> list[tuple[str, str, str, tuple[str, ...]]]:
    expected = ctx.expected
    settings = expected.settings
    needs = [
        ("topic", "the topic (replay)", expected.topic_path(), ("pubsub.topics.publish",)),
        (
            "subscription",
            "the dead-letter hold (replay --dead-letters)",
            expected.subscription_path(expected.hold_subscription),
            ("pubsub.subscriptions.consume",),
        ),
        ("queue", "the queue (doctor)", queue_path(settings), ("cloudtasks.queues.get",)),
        (
            "table",
            "the table (reconcile, redrive's probe)",
            settings.table_id,
            ("bigquery.tables.getData", "bigquery.tables.updateData"),
        ),
        (
            "project",
            "the project (queries, status)",
            expected.project,
            ("bigquery.jobs.create", "monitoring.timeSeries.list"),
        ),
    ]
    if expected.deployment.salt_secret:
        secret = f"projects/{expected.project}/secrets/{expected.deployment.salt_secret}"
        needs.append(("secret", "the salt (reconcile)", secret, ("secretmanager.versions.access",)))
    return needs


def _test(ctx: Context, kind: str, name: str, permissions: tuple[str, ...]) -> set[str]:
    clients, rest = ctx.clients, ctx.clients.rest
    request = {"resource": name, "permissions": list(permissions)}
    if kind == "topic":
        return set(clients.publisher.test_iam_permissions(request=request, timeout=20).permissions)
    if kind == "subscription":
        return set(clients.subscriber.test_iam_permissions(request=request, timeout=20).permissions)
    if kind == "queue":
        return set(clients.tasks.test_iam_permissions(request=request, timeout=20).permissions)
    if kind == "table":
        answer = clients.bigquery.test_iam_permissions(name, list(permissions), timeout=20)
        return set(answer.get("permissions", []))
    if rest is None:
        raise LookupError("no REST access")
    body = {"permissions": list(permissions)}
    url = (
        f"{SECRETS_API}/{name}:testIamPermissions"
        if kind == "secret"
        else f"{PROJECTS_V1}/projects/{name}:testIamPermissions"
    )
    return set(rest.post(url, body).get("permissions", []))


def _operator(ctx: Context) -> Check:
    missing, unread = [], []
    for kind, what, name, permissions in _operator_needs(ctx):
        try:
            granted = _test(ctx, kind, name, permissions)
        except Exception as error:
            unread.append(f"{what} ({type(error).__name__})")
            continue
        lacking = [p for p in permissions if p not in granted]
        if lacking:
            missing.append(f"{', '.join(lacking)} on {what}")
    not_checked = f"; not checked: {', '.join(unread)}" if unread else ""
    if missing:
        return fail(
            "operator permissions",
            f"your account lacks {'; '.join(missing)}{not_checked}",
            "add your account to operator_members in terraform/terraform.tfvars and run"
            " `terraform apply` (operators.tf grants what session-sync needs)",
        )
    return ok(
        "operator permissions",
        "your account may publish replays, drain dead letters, read the queue, read and insert"
        f" rows, run queries and read metrics, read the salt{not_checked} (Firestore access, a"
        " conditional grant, is proven by the Firestore line)",
    )
