"""A deployed pipeline as Google's APIs would describe it, behind fake Google clients.

`healthy_world()` is what `terraform apply` leaves behind (project `proj-1`, the
variables' defaults); tests break one thing and run the doctor over the fakes. The
fakes answer with the Google libraries' own types (pubsub, tasks, bigquery, IAM
protos) and raise their exceptions, so the doctor's code runs as against Google.
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core import iam
from google.cloud import bigquery, tasks_v2
from google.cloud.pubsub_v1 import types as pubsub
from google.iam.v1 import iam_policy_pb2, policy_pb2
from google.protobuf import duration_pb2

from cli.doctor.expected import Expected, expected
from cli.doctor.terraform import TERRAFORM_DIR, TerraformOutput, inputs
from shared.queue_policy import queue_policy
from shared.schema import schema_text
from shared.settings import load_settings

PROJECT = "proj-1"
REGION = "asia-northeast1"
PREFIX = "session-sync"
SALT = "the-deployed-salt-of-at-least-32-bytes!!"
BASE = f"https://{REGION}-{PROJECT}.cloudfunctions.net"
NAMES = {
    key: f"{PREFIX}-{key.replace('_', '-')}" for key in ("trigger", "sync_worker", "retry_worker")
}
URLS = {key: f"{BASE}/{name}" for key, name in NAMES.items()}
ACCOUNTS = {
    key: f"{PREFIX}-{key.replace('_', '-')}@{PROJECT}.iam.gserviceaccount.com"
    for key in (
        "trigger",
        "sync_worker",
        "retry_worker",
        "push_invoker",
        "tasks_invoker",
        "builder",
    )
}
PUBSUB_AGENT = "service-123456@gcp-sa-pubsub.iam.gserviceaccount.com"
SECRET = f"{PREFIX}-pseudonymization-salt"
OPERATOR_ENV = {
    "PIPELINE_MODE": "cloud",
    "GOOGLE_CLOUD_PROJECT": PROJECT,
    "BQ_DATASET": "analytics",
    "BQ_TABLE": "sessions",
    "BQ_LATEST_VIEW": "sessions_latest",
    "BQ_LOCATION": REGION,
    "PUBSUB_TOPIC": "session-completed",
    "PUBSUB_DEAD_LETTER_TOPIC": "session-completed-dead-letter",
    "PUBSUB_PUSH_SUBSCRIPTION": "session-completed-push",
    "TASKS_LOCATION": REGION,
    "TASKS_QUEUE": "bigquery-sync-queue",
    "REDRIVE_RETENTION_HOURS": "168",
    "RECONCILE_WINDOW_HOURS": "72",
}
# The permissions of the predefined roles the configuration grants (IAM roles.get), as
# far as the pipeline uses them.
ROLES = {
    "roles/pubsub.publisher": ["pubsub.topics.publish"],
    "roles/pubsub.subscriber": ["pubsub.subscriptions.consume"],
    "roles/cloudtasks.enqueuer": ["cloudtasks.tasks.create"],
    "roles/bigquery.dataEditor": ["bigquery.tables.getData", "bigquery.tables.updateData"],
    "roles/bigquery.dataViewer": ["bigquery.tables.getData"],
    "roles/bigquery.jobUser": ["bigquery.jobs.create"],
    "roles/secretmanager.secretAccessor": ["secretmanager.versions.access"],
    "roles/datastore.user": [
        "datastore.entities.create",
        "datastore.entities.get",
        "datastore.entities.list",
        "datastore.entities.update",
        "datastore.entities.delete",
    ],
    "roles/iam.serviceAccountUser": ["iam.serviceAccounts.actAs"],
    "roles/run.invoker": ["run.routes.invoke"],
    "roles/eventarc.eventReceiver": ["eventarc.events.receiveEvent"],
}


def member(key: str) -> str:
    return f"serviceAccount:{ACCOUNTS[key]}"


def terraform_output_json() -> dict[str, Any]:
    """What `terraform output -json` prints for this deployment."""
    values: dict[str, Any] = {
        "function_urls": URLS,
        "service_accounts": ACCOUNTS,
        "push_audience": URLS["sync_worker"],
        "tasks_audience": URLS["retry_worker"],
        "topic": "session-completed",
        "dead_letter_topic": "session-completed-dead-letter",
        "push_subscription": "session-completed-push",
        "dead_letter_subscription": "session-completed-dead-letter-hold",
        "tasks_queue": "bigquery-sync-queue",
        "sessions_table": f"{PROJECT}.analytics.sessions",
        "sessions_latest_view": f"{PROJECT}.analytics.sessions_latest",
        "salt_secret": SECRET,
        "salt_secret_version": "1",
        "source_bucket": f"{PROJECT}-{PREFIX}-source",
        "operator_env": "".join(f"{k}={v}\n" for k, v in OPERATOR_ENV.items())
        + f'# reconcile only: PSEUDONYMIZATION_SALT="$(gcloud secrets versions access 1'
        f' --secret={SECRET} --project={PROJECT})"\n',
    }
    return {name: {"sensitive": False, "type": "string", "value": v} for name, v in values.items()}


def defaults_only(tmp: Path) -> dict[str, Any]:
    """terraform's inputs with the variables' defaults only (no developer's tfvars)."""
    shutil.copy(TERRAFORM_DIR / "variables.tf", tmp / "variables.tf")
    return inputs(tmp)


def _duration(seconds: int) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=seconds)


def _env(key: str) -> dict[str, str]:
    common = {"PIPELINE_MODE": "cloud", "GOOGLE_CLOUD_PROJECT": PROJECT}
    if key == "sync_worker":
        return {
            **common,
            "RETRY_WORKER_URL": URLS["retry_worker"],
            "TASKS_SERVICE_ACCOUNT": ACCOUNTS["tasks_invoker"],
            "TASKS_AUDIENCE": URLS["retry_worker"],
            "PUSH_AUDIENCE": URLS["sync_worker"],
            "PUSH_SERVICE_ACCOUNT": ACCOUNTS["push_invoker"],
        }
    if key == "retry_worker":
        return {
            **common,
            "TASKS_SERVICE_ACCOUNT": ACCOUNTS["tasks_invoker"],
            "TASKS_AUDIENCE": URLS["retry_worker"],
        }
    return common


def _function(key: str) -> dict[str, Any]:
    service: dict[str, Any] = {
        "uri": f"https://{NAMES[key]}-abc123-an.a.run.app",
        "serviceAccountEmail": ACCOUNTS[key],
        "ingressSettings": "ALLOW_INTERNAL_ONLY",
        "environmentVariables": _env(key),
    }
    if key != "trigger":
        service["secretEnvironmentVariables"] = [
            {"key": "PSEUDONYMIZATION_SALT", "projectId": PROJECT, "secret": SECRET, "version": "1"}
        ]
    return {
        "name": f"projects/{PROJECT}/locations/{REGION}/functions/{NAMES[key]}",
        "state": "ACTIVE",
        "url": URLS[key],
        "serviceConfig": service,
    }


def _job(job: str) -> dict[str, Any]:
    return {
        "name": f"projects/{PROJECT}/locations/{REGION}/jobs/{PREFIX}-{job}",
        "schedule": "*/5 * * * *" if job == "redrive" else "0 3 * * *",
        "state": "ENABLED",
        "httpTarget": {
            "uri": f"{URLS['retry_worker']}/{job}",
            "httpMethod": "POST",
            "oidcToken": {
                "serviceAccountEmail": ACCOUNTS["tasks_invoker"],
                "audience": URLS["retry_worker"],
            },
        },
    }


@dataclass
class World:
    """Everything the fake clients answer from; tests change it to break one thing."""

    topics: set[str] = field(default_factory=set)
    subscriptions: dict[str, pubsub.Subscription] = field(default_factory=dict)
    queue: tasks_v2.Queue | None = None
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, list[tuple[str, list[str]]]] = field(default_factory=dict)
    rest: dict[tuple[str, str], Any] = field(default_factory=dict)
    http: dict[str, int | None] = field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refuse: dict[str, Exception] = field(default_factory=dict)  # client method -> error
    operator_lacks: set[str] = field(default_factory=set)

    def fail_if_refused(self, method: str) -> None:
        if method in self.refuse:
            raise self.refuse[method]


def healthy_world() -> World:
    """The pipeline as terraform deploys it."""
    world = World()
    topic = f"projects/{PROJECT}/topics/session-completed"
    dead_letters = f"projects/{PROJECT}/topics/session-completed-dead-letter"
    world.topics = {topic, dead_letters}
    push = f"projects/{PROJECT}/subscriptions/session-completed-push"
    hold = f"projects/{PROJECT}/subscriptions/session-completed-dead-letter-hold"
    world.subscriptions[push] = pubsub.Subscription(
        name=push,
        topic=topic,
        ack_deadline_seconds=60,
        message_retention_duration=_duration(168 * 3600),
        retain_acked_messages=True,
        expiration_policy=pubsub.ExpirationPolicy(ttl=_duration(0)),
        push_config=pubsub.PushConfig(
            push_endpoint=URLS["sync_worker"],
            oidc_token=pubsub.PushConfig.OidcToken(
                service_account_email=ACCOUNTS["push_invoker"], audience=URLS["sync_worker"]
            ),
        ),
        retry_policy=pubsub.RetryPolicy(
            minimum_backoff=_duration(10), maximum_backoff=_duration(600)
        ),
        dead_letter_policy=pubsub.DeadLetterPolicy(
            dead_letter_topic=dead_letters, max_delivery_attempts=10
        ),
    )
    world.subscriptions[hold] = pubsub.Subscription(name=hold, topic=dead_letters)
    policy = queue_policy(10)
    world.queue = tasks_v2.Queue(
        name=f"projects/{PROJECT}/locations/{REGION}/queues/bigquery-sync-queue",
        rate_limits=tasks_v2.RateLimits(max_dispatches_per_second=policy.max_dispatches_per_second),
        retry_config=tasks_v2.RetryConfig(
            max_attempts=policy.max_retries,
            min_backoff=_duration(int(policy.min_backoff_seconds)),
            max_backoff=_duration(int(policy.max_backoff_seconds)),
            max_doublings=policy.max_doublings,
        ),
        state=tasks_v2.Queue.State.RUNNING,
    )
    world.datasets[f"{PROJECT}.analytics"] = {
        "datasetReference": {"projectId": PROJECT, "datasetId": "analytics"},
        "location": REGION,
    }
    table = f"{PROJECT}.analytics.sessions"
    view = f"{PROJECT}.analytics.sessions_latest"
    world.tables[table] = {
        "id": f"{PROJECT}:analytics.sessions",
        "tableReference": {"projectId": PROJECT, "datasetId": "analytics", "tableId": "sessions"},
        "type": "TABLE",
        "schema": {"fields": json.loads(schema_text())},
        "timePartitioning": {"type": "DAY", "field": "start_time"},
        "clustering": {"fields": ["exercise_type", "user_id_hash"]},
    }
    world.tables[view] = {
        "id": f"{PROJECT}:analytics.sessions_latest",
        "tableReference": {
            "projectId": PROJECT,
            "datasetId": "analytics",
            "tableId": "sessions_latest",
        },
        "type": "VIEW",
        # As terraform's templatefile renders it.
        "view": {"query": _expected_view_sql(), "useLegacySql": False},
    }
    secret = f"projects/{PROJECT}/secrets/{SECRET}"
    queue = world.queue.name
    world.policies = {
        topic: [
            ("roles/pubsub.publisher", [member("trigger"), member("retry_worker")]),
            ("roles/pubsub.viewer", ["group:ops@example.com"]),
        ],
        dead_letters: [("roles/pubsub.publisher", [f"serviceAccount:{PUBSUB_AGENT}"])],
        push: [("roles/pubsub.subscriber", [f"serviceAccount:{PUBSUB_AGENT}"])],
        hold: [],
        queue: [("roles/cloudtasks.enqueuer", [member("sync_worker")])],
        table: [("roles/bigquery.dataEditor", [member("sync_worker"), member("retry_worker")])],
        view: [("roles/bigquery.dataViewer", [member("retry_worker")])],
    }
    rest = world.rest
    functions = "https://cloudfunctions.googleapis.com/v2"
    for key, name in NAMES.items():
        rest[("GET", f"{functions}/projects/{PROJECT}/locations/{REGION}/functions/{name}")] = (
            _function(key)
        )
    scheduler = f"https://cloudscheduler.googleapis.com/v1/projects/{PROJECT}/locations/{REGION}"
    for job in ("redrive", "reconcile"):
        rest[("GET", f"{scheduler}/jobs/{PREFIX}-{job}")] = _job(job)
    secrets = f"https://secretmanager.googleapis.com/v1/{secret}"
    rest[("GET", f"{secrets}/versions/1")] = {"name": f"{secret}/versions/1", "state": "ENABLED"}
    rest[("GET", f"{secrets}/versions/1:access")] = {
        "payload": {"data": base64.b64encode(SALT.encode()).decode()}
    }
    rest[("GET", f"{secrets}:getIamPolicy")] = _json_policy(
        [("roles/secretmanager.secretAccessor", [member("sync_worker"), member("retry_worker")])]
    )
    rest[("GET", f"https://cloudresourcemanager.googleapis.com/v3/projects/{PROJECT}")] = {
        "name": "projects/123456"
    }
    rest[
        ("POST", f"https://cloudresourcemanager.googleapis.com/v1/projects/{PROJECT}:getIamPolicy")
    ] = _json_policy(
        [
            ("roles/datastore.user", [member("sync_worker"), member("retry_worker")]),
            ("roles/bigquery.jobUser", [member("retry_worker")]),
            ("roles/eventarc.eventReceiver", [member("trigger")]),
        ]
    )
    run = f"https://run.googleapis.com/v2/projects/{PROJECT}/locations/{REGION}/services"
    rest[("GET", f"{run}/{NAMES['sync_worker']}:getIamPolicy")] = _json_policy(
        [("roles/run.invoker", [member("push_invoker")])]
    )
    rest[("GET", f"{run}/{NAMES['retry_worker']}:getIamPolicy")] = _json_policy(
        [("roles/run.invoker", [member("tasks_invoker")])]
    )
    invoker = (
        f"https://iam.googleapis.com/v1/projects/-/serviceAccounts/{ACCOUNTS['tasks_invoker']}"
    )
    rest[("POST", f"{invoker}:getIamPolicy")] = _json_policy(
        [("roles/iam.serviceAccountUser", [member("sync_worker")])]
    )
    for role, permissions in ROLES.items():
        rest[("GET", f"https://iam.googleapis.com/v1/{role}")] = {
            "name": role,
            "includedPermissions": permissions,
        }
    world.http = {url: 403 for url in URLS.values()}
    return world


def _json_policy(bindings: list[tuple[str, list[str]]]) -> dict[str, Any]:
    return {"bindings": [{"role": role, "members": members} for role, members in bindings]}


def _expected_view_sql() -> str:
    from cli.local.provision import latest_view_sql

    return latest_view_sql(cloud_settings())


def cloud_settings(**extra: str) -> Any:
    return load_settings({**OPERATOR_ENV, **extra})


def cloud_expected(tmp: Path, **extra: str) -> Expected:
    output = terraform_output_json()
    terraform = TerraformOutput("terraform-output.json", {k: v["value"] for k, v in output.items()})
    return expected(cloud_settings(**extra), terraform, defaults_only(tmp))


# --- the fake clients -------------------------------------------------------------------


class _GrpcIam:
    """The IAM methods the Pub/Sub and Cloud Tasks clients share, answered from the world."""

    def __init__(self, world: World) -> None:
        self.world = world

    def get_iam_policy(self, *, request: dict[str, Any], timeout: float) -> policy_pb2.Policy:
        return _policy(self.world, request["resource"])

    def test_iam_permissions(
        self, *, request: dict[str, Any], timeout: float
    ) -> iam_policy_pb2.TestIamPermissionsResponse:
        return _granted(self.world, request["permissions"])


class FakePublisher(_GrpcIam):
    def get_topic(self, *, topic: str, timeout: float) -> pubsub.Topic:
        self.world.fail_if_refused("get_topic")
        if topic not in self.world.topics:
            raise gexc.NotFound(f"Resource not found (resource={topic.rsplit('/', 1)[-1]}).")
        return pubsub.Topic(name=topic)


class FakeSubscriber(FakePublisher):
    def get_subscription(self, *, subscription: str, timeout: float) -> pubsub.Subscription:
        self.world.fail_if_refused("get_subscription")
        if subscription not in self.world.subscriptions:
            raise gexc.NotFound(f"Resource not found (resource={subscription}).")
        return copy.deepcopy(self.world.subscriptions[subscription])


class FakeTasks(_GrpcIam):
    def get_queue(self, *, name: str, timeout: float) -> tasks_v2.Queue:
        if self.world.queue is None or self.world.queue.name != name:
            raise gexc.NotFound("Requested entity was not found.")
        return copy.deepcopy(self.world.queue)


class FakeBigQuery:
    def __init__(self, world: World) -> None:
        self.world = world

    def get_dataset(self, dataset_id: str, timeout: float) -> bigquery.Dataset:
        if dataset_id not in self.world.datasets:
            raise gexc.NotFound(f"Not found: Dataset {dataset_id}")
        return bigquery.Dataset.from_api_repr(self.world.datasets[dataset_id])

    def get_table(self, table_id: str, timeout: float) -> bigquery.Table:
        self.world.fail_if_refused("get_table")
        if table_id not in self.world.tables:
            raise gexc.NotFound(f"Not found: Table {table_id}")
        return bigquery.Table.from_api_repr(copy.deepcopy(self.world.tables[table_id]))

    def get_iam_policy(self, table_id: str, timeout: float) -> iam.Policy:
        policy = iam.Policy()
        policy.bindings = [
            {"role": role, "members": set(members)}
            for role, members in self.world.policies.get(table_id, [])
        ]
        return policy

    def test_iam_permissions(
        self, table_id: str, permissions: list[str], timeout: float
    ) -> dict[str, Any]:
        return {"permissions": list(_granted(self.world, permissions).permissions)}


class FakeRest:
    def __init__(self, world: World) -> None:
        self.world = world
        self.calls: list[tuple[str, str]] = []

    def get(self, url: str) -> dict[str, Any]:
        return self._answer("GET", url, None)

    def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        if url.endswith(":testIamPermissions"):
            return {"permissions": list(_granted(self.world, body["permissions"]).permissions)}
        return self._answer("POST", url, body)

    def _answer(self, method: str, url: str, body: Any) -> dict[str, Any]:
        self.calls.append((method, url))
        answer = self.world.rest.get((method, url))
        if answer is None:
            raise gexc.NotFound(f"{url} not found")
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return dict(answer(body))
        return copy.deepcopy(dict(answer))


class FakeHttp:
    def __init__(self, world: World) -> None:
        self.world = world

    def status(self, method: str, url: str) -> int | None:
        return self.world.http.get(url)


class FakeSnapshot:
    def __init__(self, data: dict[str, Any] | None) -> None:
        self._data = data
        self.exists = data is not None

    def to_dict(self) -> dict[str, Any] | None:
        return copy.deepcopy(self._data)


class FakeDocument:
    def __init__(self, world: World, path: str) -> None:
        self.world, self.path = world, path

    def get(self, timeout: float) -> FakeSnapshot:
        self.world.fail_if_refused("document.get")
        return FakeSnapshot(self.world.documents.get(self.path))


class FakeFirestore:
    def __init__(self, world: World) -> None:
        self.world = world
        self._collection = ""

    def collection(self, name: str) -> FakeFirestore:
        fake = FakeFirestore(self.world)
        fake._collection = name
        return fake

    def document(self, name: str) -> FakeDocument:
        path = f"{self._collection}/{name}" if self._collection else name
        return FakeDocument(self.world, path)


def _policy(world: World, resource: str) -> policy_pb2.Policy:
    return policy_pb2.Policy(
        bindings=[
            policy_pb2.Binding(role=role, members=members)
            for role, members in world.policies.get(resource, [])
        ]
    )


def _granted(world: World, permissions: list[str]) -> iam_policy_pb2.TestIamPermissionsResponse:
    return iam_policy_pb2.TestIamPermissionsResponse(
        permissions=[p for p in permissions if p not in world.operator_lacks]
    )


def clients_of(world: World) -> Any:
    from cli.doctor.context import Clients

    return Clients(
        publisher=FakePublisher(world),
        subscriber=FakeSubscriber(world),
        tasks=FakeTasks(world),
        bigquery=FakeBigQuery(world),
        firestore=FakeFirestore(world),
        http=FakeHttp(world),
        rest=FakeRest(world),
    )


Mutation = Callable[[World], None]
