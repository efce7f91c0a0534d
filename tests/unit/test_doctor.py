"""`session-sync doctor` over fake Google clients: a healthy deployment passes, and each
way of breaking it gives its ✗ line with a fix (exit 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import tasks_v2
from google.cloud.pubsub_v1 import types as pubsub
from google.protobuf import duration_pb2

from cli.doctor.report import Report, State
from cli.doctor.run import diagnose
from tests.unit import doctor_world as w
from tests.unit.doctor_world import World

PUSH = f"projects/{w.PROJECT}/subscriptions/session-completed-push"
HOLD = f"projects/{w.PROJECT}/subscriptions/session-completed-dead-letter-hold"
TOPIC = f"projects/{w.PROJECT}/topics/session-completed"
DEAD_LETTERS = f"projects/{w.PROJECT}/topics/session-completed-dead-letter"
TABLE = f"{w.PROJECT}.analytics.sessions"
VIEW = f"{w.PROJECT}.analytics.sessions_latest"
FUNCTIONS = (
    f"https://cloudfunctions.googleapis.com/v2/projects/{w.PROJECT}/locations/{w.REGION}/functions"
)
SCHEDULER = (
    f"https://cloudscheduler.googleapis.com/v1/projects/{w.PROJECT}/locations/{w.REGION}/jobs"
)
SECRET = f"https://secretmanager.googleapis.com/v1/projects/{w.PROJECT}/secrets/{w.SECRET}"


def run_doctor(tmp_path: Path, world: World, **settings: str) -> Report:
    expected = w.cloud_expected(tmp_path, **{"PSEUDONYMIZATION_SALT": w.SALT, **settings})
    return diagnose(expected, w.clients_of(world))


def by_name(report: Report) -> dict[str, Any]:
    return {check.name: check for check in report.checks}


def test_a_healthy_deployment_passes_every_check(tmp_path: Path) -> None:
    report = run_doctor(tmp_path, w.healthy_world())

    assert [c.line() for c in report.checks if c.state is not State.OK] == []
    assert report.exit_code == 0
    names = set(by_name(report))
    assert {
        "topic",
        "dead-letter policy",
        "retry policy",
        "push endpoint",
        "push audience",
        "retry queue",
        "table schema",
        "table partitioning",
        "table clustering",
        "view",
        "salt secret version",
        "salt version of the workers",
        "IAM sync worker",
        "operator permissions",
        "sync worker refuses unauthenticated requests",
        "scheduled job redrive",
    } <= names


def _function(world: World, key: str) -> dict[str, Any]:
    return world.rest[("GET", f"{FUNCTIONS}/{w.NAMES[key]}")]  # type: ignore[no-any-return]


def _sub(world: World, path: str = PUSH) -> pubsub.Subscription:
    return world.subscriptions[path]


def _drop_dead_letter_policy(world: World) -> None:
    _sub(world)._pb.ClearField("dead_letter_policy")


def _drop_retry_policy(world: World) -> None:
    _sub(world)._pb.ClearField("retry_policy")


def _drop_column(world: World) -> None:
    fields = world.tables[TABLE]["schema"]["fields"]
    world.tables[TABLE]["schema"]["fields"] = [f for f in fields if f["name"] != "overall_score"]


def _retype_column(world: World) -> None:
    for field in world.tables[TABLE]["schema"]["fields"]:
        if field["name"] == "rep_count":
            field["type"] = "STRING"


def _extra_column(world: World) -> None:
    world.tables[TABLE]["schema"]["fields"].append({"name": "debug", "type": "STRING"})


def _set_env(key: str, name: str, value: str) -> Any:
    def mutate(world: World) -> None:
        _function(world, key)["serviceConfig"]["environmentVariables"][name] = value

    return mutate


def _pause_queue(world: World) -> None:
    assert world.queue is not None
    world.queue.state = tasks_v2.Queue.State.PAUSED


def _queue_retries(world: World) -> None:
    assert world.queue is not None
    world.queue.retry_config.max_attempts = 100


def _salt_version(world: World) -> None:
    _function(world, "retry_worker")["serviceConfig"]["secretEnvironmentVariables"][0][
        "version"
    ] = "2"


def _no_salt(world: World) -> None:
    del _function(world, "sync_worker")["serviceConfig"]["secretEnvironmentVariables"]


def _drop_grant(resource: str, role: str, who: str) -> Any:
    def mutate(world: World) -> None:
        world.policies[resource] = [
            (r, [m for m in members if not (r == role and m == who)])
            for r, members in world.policies[resource]
        ]

    return mutate


def _drop_rest_grant(url: str, role: str, who: str) -> Any:
    def mutate(world: World) -> None:
        policy = world.rest[("GET", url)]
        for binding in policy["bindings"]:
            if binding["role"] == role:
                binding["members"] = [m for m in binding["members"] if m != who]

    return mutate


def _set(path: tuple[str, str], *keys: str, value: Any) -> Any:
    def mutate(world: World) -> None:
        target = world.rest[path]
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return mutate


def _http(url: str, status: int | None) -> Any:
    def mutate(world: World) -> None:
        world.http[url] = status

    return mutate


def _refuse(method: str, error: Exception) -> Any:
    def mutate(world: World) -> None:
        world.refuse[method] = error

    return mutate


def _table(table: str, **changes: Any) -> Any:
    def mutate(world: World) -> None:
        for key, value in changes.items():
            if value is None:
                world.tables[table].pop(key, None)
            else:
                world.tables[table][key] = value

    return mutate


def _push_endpoint(endpoint: str) -> Any:
    def mutate(world: World) -> None:
        _sub(world).push_config.push_endpoint = endpoint

    return mutate


def _audience(audience: str) -> Any:
    def mutate(world: World) -> None:
        _sub(world).push_config.oidc_token.audience = audience

    return mutate


def _without(collection: str, key: Any) -> Any:
    def mutate(world: World) -> None:
        container = getattr(world, collection)
        if isinstance(container, set):
            container.discard(key)
        else:
            container.pop(key, None)

    return mutate


JOB = ("GET", f"{SCHEDULER}/session-sync-redrive")
VERSION = ("GET", f"{SECRET}/versions/1")
DENIED = gexc.PermissionDenied("User not authorized to perform this action.")

BROKEN = [
    ("topic missing", _without("topics", TOPIC), "topic", "does not exist"),
    (
        "dead-letter topic missing",
        _without("topics", DEAD_LETTERS),
        "dead-letter topic",
        "does not exist",
    ),
    (
        "push subscription missing",
        _without("subscriptions", PUSH),
        "push subscription",
        "nothing delivers",
    ),
    (
        "push subscription unreadable",
        _refuse("get_subscription", DENIED),
        "push subscription",
        "permission denied",
    ),
    (
        "ack deadline",
        lambda wd: setattr(_sub(wd), "ack_deadline_seconds", 10),
        "push subscription",
        "ack deadline 10 s",
    ),
    (
        "retention",
        lambda wd: setattr(_sub(wd), "retain_acked_messages", False),
        "push subscription",
        "acknowledged",
    ),
    ("dead-letter policy dropped", _drop_dead_letter_policy, "dead-letter policy", "has none"),
    (
        "dead-letter attempts",
        lambda wd: setattr(_sub(wd).dead_letter_policy, "max_delivery_attempts", 5),
        "dead-letter policy",
        "after 5 attempts, not 10",
    ),
    (
        "dead-letter elsewhere",
        lambda wd: setattr(_sub(wd).dead_letter_policy, "dead_letter_topic", TOPIC),
        "dead-letter policy",
        "sends to",
    ),
    ("retry policy dropped", _drop_retry_policy, "retry policy", "has none"),
    (
        "retry backoff",
        lambda wd: setattr(
            _sub(wd).retry_policy, "maximum_backoff", duration_pb2.Duration(seconds=60)
        ),
        "retry policy",
        "backoff 10 s to 60 s, not 10 s to 600 s",
    ),
    ("pull subscription", _push_endpoint(""), "push endpoint", "pull subscription"),
    (
        "push elsewhere",
        _push_endpoint("https://example.com/x"),
        "push endpoint",
        "not the sync worker",
    ),
    (
        "wrong audience",
        _audience("https://wrong.example.com"),
        "push audience",
        "audience https://wrong.example.com",
    ),
    (
        "worker expects other audience",
        _set_env("sync_worker", "PUSH_AUDIENCE", "https://other"),
        "push audience",
        "expects https://other",
    ),
    (
        "hold missing",
        _without("subscriptions", HOLD),
        "dead-letter hold subscription",
        "does not exist",
    ),
    ("queue missing", lambda wd: setattr(wd, "queue", None), "retry queue", "does not exist"),
    ("queue retries", _queue_retries, "retry queue", "max attempts 100, not 10"),
    ("queue paused", _pause_queue, "retry queue", "PAUSED"),
    (
        "tasks audience",
        _set_env("sync_worker", "TASKS_AUDIENCE", "https://nope"),
        "retry target",
        "sends audience https://nope",
    ),
    (
        "retry URL",
        _set_env("sync_worker", "RETRY_WORKER_URL", "https://nope"),
        "retry target",
        "sends URL https://nope",
    ),
    ("job missing", _without("rest", JOB), "scheduled job redrive", "does not exist"),
    (
        "job audience",
        _set(JOB, "httpTarget", "oidcToken", "audience", value="https://x"),
        "scheduled job redrive",
        "token audience https://x",
    ),
    (
        "job uri",
        _set(JOB, "httpTarget", "uri", value="https://x/redrive"),
        "scheduled job redrive",
        "calls https://x/redrive",
    ),
    ("job paused", _set(JOB, "state", value="PAUSED"), "scheduled job redrive", "state PAUSED"),
    (
        "dataset missing",
        _without("datasets", f"{w.PROJECT}.analytics"),
        "dataset",
        "does not exist",
    ),
    (
        "dataset location",
        lambda wd: wd.datasets[f"{w.PROJECT}.analytics"].update(location="US"),
        "dataset",
        "is in US",
    ),
    ("table missing", _without("tables", TABLE), "table schema", "does not exist"),
    ("column missing", _drop_column, "table schema", "missing column(s) overall_score"),
    ("column retyped", _retype_column, "table schema", "rep_count is STRING NULLABLE, not INTEGER"),
    ("column extra", _extra_column, "table schema", "not in shared/schema.json: debug"),
    ("table unreadable", _refuse("get_table", DENIED), "table schema", "permission denied"),
    (
        "not partitioned",
        _table(TABLE, timePartitioning=None),
        "table partitioning",
        "none, not DAY on start_time",
    ),
    (
        "other partitioning",
        _table(TABLE, timePartitioning={"type": "DAY", "field": "created_at"}),
        "table partitioning",
        "DAY on created_at",
    ),
    (
        "not clustered",
        _table(TABLE, clustering=None),
        "table clustering",
        "none, not exercise_type",
    ),
    ("view missing", _without("tables", VIEW), "view", "does not exist"),
    ("view is a table", _table(VIEW, type="TABLE", view=None), "view", "is a TABLE, not a VIEW"),
    (
        "view SQL",
        _table(VIEW, view={"query": f"SELECT * FROM `{TABLE}`"}),
        "view",
        "is not shared/sql/sessions_latest.sql",
    ),
    (
        "function missing",
        _without("rest", ("GET", f"{FUNCTIONS}/{w.NAMES['trigger']}")),
        "function trigger",
        "is not deployed",
    ),
    (
        "function failed",
        _set(("GET", f"{FUNCTIONS}/{w.NAMES['trigger']}"), "state", value="FAILED"),
        "function trigger",
        "state FAILED",
    ),
    (
        "function account",
        _set(
            ("GET", f"{FUNCTIONS}/{w.NAMES['retry_worker']}"),
            "serviceConfig",
            "serviceAccountEmail",
            value="x@y",
        ),
        "function retry worker",
        "runs as x@y",
    ),
    (
        "function ingress",
        _set(
            ("GET", f"{FUNCTIONS}/{w.NAMES['sync_worker']}"),
            "serviceConfig",
            "ingressSettings",
            value="ALLOW_ALL",
        ),
        "function sync worker",
        "ingress ALLOW_ALL",
    ),
    (
        "function URL",
        _set(("GET", f"{FUNCTIONS}/{w.NAMES['sync_worker']}"), "url", value="https://moved"),
        "function sync worker",
        "terraform output says",
    ),
    (
        "open to anyone",
        _http(w.URLS["sync_worker"], 200),
        "sync worker refuses unauthenticated requests",
        "anyone can call it",
    ),
    (
        "unreachable",
        _http(w.URLS["trigger"], None),
        "trigger refuses unauthenticated requests",
        "nothing answers",
    ),
    ("salt version missing", _without("rest", VERSION), "salt secret version", "does not exist"),
    (
        "salt version disabled",
        _set(VERSION, "state", value="DISABLED"),
        "salt secret version",
        "is DISABLED",
    ),
    (
        "worker salt version",
        _salt_version,
        "salt version of the workers",
        "the retry worker reads version 2",
    ),
    (
        "worker without salt",
        _no_salt,
        "salt version of the workers",
        "the sync worker reads no salt secret",
    ),
    (
        "IAM trigger",
        _drop_grant(TOPIC, "roles/pubsub.publisher", w.member("trigger")),
        "IAM trigger",
        "lacks pubsub.topics.publish on the topic",
    ),
    (
        "IAM sync worker queue",
        _drop_grant(
            f"projects/{w.PROJECT}/locations/{w.REGION}/queues/bigquery-sync-queue",
            "roles/cloudtasks.enqueuer",
            w.member("sync_worker"),
        ),
        "IAM sync worker",
        "cloudtasks.tasks.create on the queue",
    ),
    (
        "IAM retry worker view",
        _drop_grant(VIEW, "roles/bigquery.dataViewer", w.member("retry_worker")),
        "IAM retry worker",
        "bigquery.tables.getData on the view",
    ),
    (
        "IAM salt",
        _drop_rest_grant(
            f"{SECRET}:getIamPolicy", "roles/secretmanager.secretAccessor", w.member("retry_worker")
        ),
        "IAM retry worker",
        "secretmanager.versions.access on the salt",
    ),
    (
        "IAM agent",
        _drop_grant(DEAD_LETTERS, "roles/pubsub.publisher", f"serviceAccount:{w.PUBSUB_AGENT}"),
        "IAM Pub/Sub service agent",
        "pubsub.topics.publish on the dead-letter topic",
    ),
    (
        "IAM invoker",
        _drop_rest_grant(
            f"https://run.googleapis.com/v2/projects/{w.PROJECT}/locations/{w.REGION}/services/{w.NAMES['sync_worker']}:getIamPolicy",
            "roles/run.invoker",
            w.member("push_invoker"),
        ),
        "IAM push invoker",
        "run.routes.invoke on the sync worker",
    ),
    (
        "operator",
        lambda wd: wd.operator_lacks.add("pubsub.topics.publish"),
        "operator permissions",
        "lacks pubsub.topics.publish on the topic",
    ),
    (
        "Firestore missing",
        _refuse(
            "document.get",
            gexc.NotFound("The database (default) does not exist for project proj-1"),
        ),
        "Firestore",
        "no database (default)",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "name", "needle"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_each_break_gives_its_failed_line_with_a_fix(
    tmp_path: Path, mutate: Any, name: str, needle: str
) -> None:
    world = w.healthy_world()
    mutate(world)

    report = run_doctor(tmp_path, world)

    check = by_name(report)[name]
    assert check.state is State.FAIL, check.line()
    assert needle in check.detail
    assert check.fix
    assert report.exit_code == 1
    assert f"✗ {name}: " in "\n".join(report.lines())
    assert f"    fix: {check.fix}" in report.lines()


def test_the_operators_salt_must_be_the_pinned_version(tmp_path: Path) -> None:
    report = run_doctor(tmp_path, w.healthy_world(), PSEUDONYMIZATION_SALT="x" * 40)

    check = by_name(report)["operator's salt"]
    assert check.state is State.FAIL
    assert "differs from version 1" in check.detail
    assert "gcloud secrets versions access 1" in check.fix
    assert "x" * 40 not in "\n".join(report.lines())


def test_without_a_salt_the_operator_check_is_skipped(tmp_path: Path) -> None:
    expected = w.cloud_expected(tmp_path)

    report = diagnose(expected, w.clients_of(w.healthy_world()))

    assert by_name(report)["operator's salt"].state is State.SKIP
    assert report.exit_code == 0


def test_behind_internal_ingress_a_404_is_skipped_not_failed(tmp_path: Path) -> None:
    world = w.healthy_world()
    world.http[w.URLS["retry_worker"]] = 404

    check = by_name(run_doctor(tmp_path, world))["retry worker refuses unauthenticated requests"]

    assert check.state is State.SKIP
    assert "ALLOW_INTERNAL_ONLY" in check.detail


def test_policies_the_operator_cannot_read_are_reported_not_checked(tmp_path: Path) -> None:
    world = w.healthy_world()
    run = f"https://run.googleapis.com/v2/projects/{w.PROJECT}/locations/{w.REGION}/services"
    world.rest[("GET", f"{run}/{w.NAMES['sync_worker']}:getIamPolicy")] = DENIED
    project = f"https://cloudresourcemanager.googleapis.com/v1/projects/{w.PROJECT}:getIamPolicy"
    world.rest[("POST", project)] = DENIED

    checks = by_name(run_doctor(tmp_path, world))

    assert checks["IAM push invoker"].state is State.SKIP
    assert "not readable by your account" in checks["IAM push invoker"].detail
    assert checks["IAM sync worker"].state is State.OK
    assert "not checked: Firestore" in checks["IAM sync worker"].detail
