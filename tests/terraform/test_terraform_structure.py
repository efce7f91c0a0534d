"""Structural checks on terraform/: what `terraform validate` cannot say, and what it could."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest

from shared.queue_policy import QueuePolicy
from shared.settings import ENV_NAMES
from tests.terraform.hcl_config import (
    REPO_ROOT,
    TERRAFORM_DIR,
    Config,
    blocks,
    duration_seconds,
    expression,
    single_block,
    strings,
    terraform_config,
)

FUNCTIONS = {
    "trigger": "on_session_written",
    "sync_worker": "sync_worker_push",
    "retry_worker": "retry_worker_task",
}
WORKERS = {"sync_worker", "retry_worker"}
PRIMITIVE_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
# Roles granted on the whole project: only where GCP offers no narrower resource
# (storage.objectAdmin: the builder reads the Functions API's own source bucket;
# bigquery.jobUser: query jobs belong to a project; monitoring.viewer and
# cloudscheduler.viewer: operators read time series and the job list, both per project).
PROJECT_ROLES = {
    "roles/eventarc.eventReceiver",
    "roles/datastore.user",
    "roles/logging.logWriter",
    "roles/storage.objectAdmin",
    "roles/bigquery.jobUser",
    "roles/monitoring.viewer",
    "roles/cloudscheduler.viewer",
}
PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}


@pytest.fixture(scope="module")
def config() -> Config:
    return terraform_config()


def sa(key: str, attribute: str) -> str:
    return f'${{google_service_account.component["{key}"].{attribute}}}'


def function(config: Config, key: str) -> dict[str, Any]:
    return config.resource("google_cloudfunctions2_function", key)


def environment(config: Config, key: str) -> dict[str, Any]:
    """The plain environment variables of function `key`, locals resolved."""
    service = single_block(function(config, key), "service_config")
    env = config.resolve(service["environment_variables"])
    assert isinstance(env, dict), f"{key}: environment_variables must be a map (or local map)"
    return env


# --- BigQuery ---------------------------------------------------------------------------


def test_sessions_table_schema_is_the_shared_schema_file(config: Config) -> None:
    table = config.resource("google_bigquery_table", "sessions")
    assert expression(table["schema"]) == 'file("${path.module}/../shared/schema.json")'
    assert (TERRAFORM_DIR / "../shared/schema.json").resolve() == REPO_ROOT / "shared/schema.json"
    schema_owners = [key for key, body in config.resources.items() if "schema" in body]
    assert schema_owners == [("google_bigquery_table", "sessions")]
    columns = [c["name"] for c in json.loads((REPO_ROOT / "shared/schema.json").read_text())]
    for file_name, text in config.texts.items():
        copied = [c for c in columns if re.search(rf'name\s*=\s*"{c}"', text)]
        assert not copied, f"{file_name} re-declares schema columns {copied}"


def test_sessions_table_partitioning_clustering_and_protection(config: Config) -> None:
    table = config.resource("google_bigquery_table", "sessions")
    columns = {c["name"]: c for c in json.loads((REPO_ROOT / "shared/schema.json").read_text())}
    partitioning = single_block(table, "time_partitioning")
    assert partitioning["type"] == "DAY"
    assert partitioning["field"] == "start_time"
    assert columns["start_time"]["type"] == "TIMESTAMP"
    assert table["clustering"] == ["exercise_type", "user_id_hash"]
    assert set(table["clustering"]) <= set(columns)
    assert expression(table["deletion_protection"]) == "!var.allow_destroy"
    assert config.variables["allow_destroy"]["default"] is False


def test_latest_view_is_the_shared_sql_template(config: Config) -> None:
    view = single_block(config.resource("google_bigquery_table", "sessions_latest"), "view")
    query = expression(view["query"])
    assert query is not None
    match = re.fullmatch(
        r'templatefile\("\$\{path\.module\}/\.\./shared/sql/sessions_latest\.sql",\s*\{(.*)\}\)',
        query,
        re.DOTALL,
    )
    assert match, f"the view must render shared/sql/sessions_latest.sql, not {query}"
    given = set(re.findall(r"(\w+)\s*=", match.group(1)))
    sql = (REPO_ROOT / "shared/sql/sessions_latest.sql").read_text()
    assert set(re.findall(r"\$\{(\w+)\}", sql)) == given == {"project", "dataset", "table"}
    assert view["use_legacy_sql"] is False


def test_dataset_takes_the_optional_cmek_key(config: Config) -> None:
    dataset = config.resource("google_bigquery_dataset", "analytics")
    assert config.resolve(dataset["location"]) == "asia-northeast1"
    assert "bigquery_kms_key_name" in config.variables
    assert config.variables["bigquery_kms_key_name"]["default"] is None
    (encryption,) = blocks(dataset, "dynamic")
    assert "default_encryption_configuration" in encryption


# --- Cloud Tasks ------------------------------------------------------------------------


def test_queue_matches_the_shared_queue_policy(config: Config) -> None:
    policy = QueuePolicy()
    queue = config.resource("google_cloud_tasks_queue", "bigquery_sync")
    assert config.resolve(queue["name"]) == "bigquery-sync-queue"
    rate = single_block(queue, "rate_limits")
    assert float(rate["max_dispatches_per_second"]) == policy.max_dispatches_per_second
    retry = single_block(queue, "retry_config")
    assert expression(retry["max_attempts"]) == "var.max_retries", "one retry-count variable"
    assert config.resolve(retry["max_attempts"]) == policy.max_retries
    assert duration_seconds(retry["min_backoff"]) == policy.min_backoff_seconds
    assert duration_seconds(retry["max_backoff"]) == policy.max_backoff_seconds
    assert retry["max_doublings"] == policy.max_doublings


def test_workers_get_the_same_retry_count_as_the_queue(config: Config) -> None:
    for key in WORKERS:
        env = environment(config, key)
        assert expression(env["SYNC_MAX_RETRIES"]) == "tostring(var.max_retries)", key


# --- Pub/Sub ----------------------------------------------------------------------------


def test_push_subscription_pushes_to_the_sync_worker_with_oidc(config: Config) -> None:
    subscription = config.resource("google_pubsub_subscription", "sync_worker_push")
    assert expression(subscription["topic"]) == "google_pubsub_topic.session_completed.id"
    push = single_block(subscription, "push_config")
    assert expression(push["push_endpoint"]) == "google_cloudfunctions2_function.sync_worker.url"
    oidc = single_block(push, "oidc_token")
    assert oidc["service_account_email"] == sa("push_invoker", "email")
    assert expression(oidc["audience"]) == "local.push_audience"
    env = environment(config, "sync_worker")
    assert env["PUSH_AUDIENCE"] == oidc["audience"], "the worker must expect the token's audience"
    assert env["PUSH_SERVICE_ACCOUNT"] == oidc["service_account_email"]


def test_push_subscription_dead_letters_retries_and_retains(config: Config) -> None:
    subscription = config.resource("google_pubsub_subscription", "sync_worker_push")
    dead_letter = single_block(subscription, "dead_letter_policy")
    assert expression(dead_letter["dead_letter_topic"]) == "google_pubsub_topic.dead_letter.id"
    attempts = config.resolve(dead_letter["max_delivery_attempts"])
    assert isinstance(attempts, int) and 5 <= attempts <= 100
    retry = single_block(subscription, "retry_policy")
    assert {"minimum_backoff", "maximum_backoff"} <= set(retry)
    assert config.resolve(subscription["ack_deadline_seconds"]) >= 10
    retention = subscription["message_retention_duration"]
    assert retention == "${var.message_retention_hours * 3600}s"
    assert config.variables["message_retention_hours"]["default"] * 3600 == 7 * 86400
    assert subscription["retain_acked_messages"] is True
    assert single_block(subscription, "expiration_policy")["ttl"] == ""


def test_dead_letter_topic_keeps_its_messages(config: Config) -> None:
    holders = [
        body
        for body in config.of_type("google_pubsub_subscription").values()
        if expression(body["topic"]) == "google_pubsub_topic.dead_letter.id"
    ]
    assert len(holders) == 1, "one subscription must hold the dead letters"
    assert duration_seconds(config.resolve(holders[0]["message_retention_duration"])) == 7 * 86400


def test_pubsub_service_agent_may_forward_dead_letters(config: Config) -> None:
    agent = config.locals["pubsub_service_agent"]
    assert agent == (
        "serviceAccount:service-${data.google_project.this.number}"
        "@gcp-sa-pubsub.iam.gserviceaccount.com"
    )
    publishers = [
        body
        for body in config.of_type("google_pubsub_topic_iam_member").values()
        if expression(body["topic"]) == "google_pubsub_topic.dead_letter.name"
    ]
    assert [(b["role"], expression(b["member"])) for b in publishers] == [
        ("roles/pubsub.publisher", "local.pubsub_service_agent")
    ]
    subscribers = [
        body
        for body in config.of_type("google_pubsub_subscription_iam_member").values()
        if expression(body["subscription"]) == "google_pubsub_subscription.sync_worker_push.name"
    ]
    assert [(b["role"], expression(b["member"])) for b in subscribers] == [
        ("roles/pubsub.subscriber", "local.pubsub_service_agent")
    ]


# --- Functions --------------------------------------------------------------------------


def test_functions_share_one_source_archive_and_runtime(config: Config) -> None:
    sources = set()
    for key, entry_point in FUNCTIONS.items():
        build = single_block(function(config, key), "build_config")
        assert build["runtime"] == "python311"
        assert build["entry_point"] == entry_point
        storage = single_block(single_block(build, "source"), "storage_source")
        sources.add((storage["bucket"], storage["object"]))
    assert sources == {
        (
            "${google_storage_bucket.source.name}",
            "${google_storage_bucket_object.source.name}",
        )
    }


def test_main_module_exposes_every_entry_point() -> None:
    tree = ast.parse((REPO_ROOT / "main.py").read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    missing = set(FUNCTIONS.values()) - names
    assert not missing, f"terraform deploys entry points main.py does not define: {missing}"


@pytest.mark.parametrize("key", sorted(FUNCTIONS))
def test_function_env_names_are_known_settings(config: Config, key: str) -> None:
    service = single_block(function(config, key), "service_config")
    env = environment(config, key)
    secrets = {block["key"] for block in blocks(service, "secret_environment_variables")}
    unknown = (set(env) | secrets) - set(ENV_NAMES)
    assert not unknown, f"{key} receives variables shared/settings.py does not read: {unknown}"
    assert env["PIPELINE_MODE"] == "cloud"
    assert "PSEUDONYMIZATION_SALT" not in env, "the salt comes from Secret Manager only"
    assert "AUTH_DISABLED" not in env
    assert not any(name.endswith("_EMULATOR_HOST") for name in env)
    if key in WORKERS:
        assert secrets == {"PSEUDONYMIZATION_SALT"}
        (salt,) = blocks(service, "secret_environment_variables")
        assert expression(salt["secret"]) == "google_secret_manager_secret.salt.secret_id"
        assert expression(salt["version"]) == "var.salt_secret_version"
    else:
        assert not secrets, "only the workers read the salt"


def test_retry_tasks_audience_and_identity_reach_both_ends(config: Config) -> None:
    sync_env = environment(config, "sync_worker")
    retry_env = environment(config, "retry_worker")
    assert expression(sync_env["RETRY_WORKER_URL"]) == (
        "google_cloudfunctions2_function.retry_worker.url"
    )
    assert "RETRY_WORKER_URL" not in retry_env, "a function cannot reference its own URL"
    for env in (sync_env, retry_env):
        assert env["TASKS_SERVICE_ACCOUNT"] == sa("tasks_invoker", "email")
        assert expression(env["TASKS_AUDIENCE"]) == "local.tasks_audience"


def test_trigger_listens_to_session_writes_with_retries(config: Config) -> None:
    trigger = single_block(function(config, "trigger"), "event_trigger")
    assert trigger["event_type"] == "google.cloud.firestore.document.v1.written"
    assert trigger["retry_policy"] == "RETRY_POLICY_RETRY"
    assert trigger["service_account_email"] == sa("trigger", "email")
    filters = {
        (f["attribute"], config.resolve(f["value"]), f.get("operator"))
        for f in blocks(trigger, "event_filters")
    }
    assert filters == {
        ("database", "(default)", None),
        ("document", "users/{userId}/sessions/{sessionId}", "match-path-pattern"),
    }


@pytest.mark.parametrize("key", sorted(FUNCTIONS))
def test_function_identity_scaling_and_ingress(config: Config, key: str) -> None:
    service = single_block(function(config, key), "service_config")
    assert service["service_account_email"] == sa(key, "email")
    assert expression(service["ingress_settings"]) == "var.function_ingress"
    assert config.resolve(service["ingress_settings"]) == "ALLOW_INTERNAL_ONLY"
    for attribute in ("min_instance_count", "max_instance_count"):
        assert expression(service[attribute]), f"{key}.{attribute} must come from a variable"
    assert expression(service["max_instance_request_concurrency"]), f"{key}: concurrency variable"


def test_each_function_has_exactly_its_invoker(config: Config) -> None:
    invokers = {
        expression(body["name"]): body["member"]
        for body in config.of_type("google_cloud_run_v2_service_iam_member").values()
        if body["role"] == "roles/run.invoker"
    }
    assert invokers == {
        "google_cloudfunctions2_function.trigger.name": sa("trigger", "member"),
        "google_cloudfunctions2_function.sync_worker.name": sa("push_invoker", "member"),
        "google_cloudfunctions2_function.retry_worker.name": sa("tasks_invoker", "member"),
    }


# --- IAM --------------------------------------------------------------------------------


def iam_bindings(config: Config) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (kind, name, body)
        for (kind, name), body in config.resources.items()
        if "role" in body or "members" in body or "member" in body
    ]


def test_no_primitive_roles_and_every_role_is_literal(config: Config) -> None:
    for kind, name, body in iam_bindings(config):
        role = body.get("role")
        assert isinstance(role, str) and expression(role) is None and role.startswith("roles/"), (
            f"{kind}.{name}: write the role as a literal so it can be reviewed, not {role!r}"
        )
        assert role not in PRIMITIVE_ROLES, f"{kind}.{name} grants the primitive role {role}"
    for file_name, text in config.texts.items():
        found = re.findall(r"roles/(?:owner|editor|viewer)\b", text)
        assert not found, f"{file_name} mentions primitive roles {found}"


def test_iam_is_additive_and_never_public(config: Config) -> None:
    kinds = {kind for kind, _ in config.resources}
    authoritative = {k for k in kinds if k.endswith(("_iam_policy", "_iam_binding"))}
    assert not authoritative, f"authoritative IAM removes grants made elsewhere: {authoritative}"
    for kind, name, body in iam_bindings(config):
        assert not PUBLIC_MEMBERS & set(strings(body)), f"{kind}.{name} is public"


def test_project_wide_roles_only_where_no_resource_level_role_exists(config: Config) -> None:
    roles = {body["role"] for body in config.of_type("google_project_iam_member").values()}
    assert roles <= PROJECT_ROLES, f"grant these on the resource instead: {roles - PROJECT_ROLES}"
    firestore = config.resource("google_project_iam_member", "workers_firestore")
    assert (
        "databases/${local.firestore_database}"
        in single_block(firestore, "condition")["expression"]
    )


def test_only_the_workers_and_operators_read_the_salt(config: Config) -> None:
    accessors = {
        str(config.resolve(body["for_each"])): body["member"]
        for body in config.of_type("google_secret_manager_secret_iam_member").values()
        if body["role"] == "roles/secretmanager.secretAccessor"
    }
    assert accessors == {
        '${toset(["sync_worker", "retry_worker"])}': (
            "${google_service_account.component[each.key].member}"
        ),
        "${toset(var.operator_members)}": "${each.value}",
    }
    secret = config.resource("google_secret_manager_secret", "salt")
    assert "secret_data" not in json.dumps(secret)
    assert not config.of_type("google_secret_manager_secret_version"), "no salt value in code"


def test_one_service_account_per_component(config: Config) -> None:
    accounts = config.locals["service_accounts"]
    assert set(accounts) >= {*FUNCTIONS, "push_invoker", "tasks_invoker"}
    minting = config.resource(
        "google_service_account_iam_member", "sync_worker_acts_as_tasks_invoker"
    )
    assert minting["role"] == "roles/iam.serviceAccountUser"
    assert minting["service_account_id"] == sa("tasks_invoker", "name")
    assert minting["member"] == sa("sync_worker", "member")


# --- Monitoring -------------------------------------------------------------------------


def test_alerts_cover_dead_letters_backlog_age_and_abandoned_syncs(config: Config) -> None:
    policies = config.of_type("google_monitoring_alert_policy")
    filters = {
        name: " ".join(
            kind["filter"]
            for condition in blocks(body, "conditions")
            for key in ("condition_threshold", "condition_matched_log")
            for kind in blocks(condition, key)
        )
        for name, body in policies.items()
    }
    assert "subscription/dead_letter_message_count" in filters["dead_letters"]
    assert "subscription/oldest_unacked_message_age" in filters["push_backlog_age"]
    assert "google_pubsub_subscription.sync_worker_push.name" in filters["push_backlog_age"]
    assert 'jsonPayload.message = "sync_abandoned"' in config.expand(filters["sync_abandoned"])
    for body in policies.values():
        assert expression(body["notification_channels"]) == "var.notification_channels"
    assert config.variables["notification_channels"]["default"] == []


# --- Hygiene ----------------------------------------------------------------------------


def test_every_variable_has_a_description_and_type(config: Config) -> None:
    for name, body in config.variables.items():
        assert str(body.get("description", "")).strip(), f"variable {name} has no description"
        assert "type" in body, f"variable {name} has no type"


def test_every_output_has_a_description(config: Config) -> None:
    for name, body in config.outputs.items():
        assert str(body.get("description", "")).strip(), f"output {name} has no description"


def test_every_reference_is_declared(config: Config) -> None:
    """What `terraform validate` would catch first: references to nothing."""
    everything = [config.resources, config.data, config.variables, config.locals, config.outputs]
    joined = "\n".join(strings([list(part.values()) for part in everything]))
    for name in set(re.findall(r"\bvar\.(\w+)", joined)):
        assert name in config.variables, f"undeclared variable var.{name}"
    for name in set(re.findall(r"\blocal\.(\w+)", joined)):
        assert name in config.locals, f"undeclared local local.{name}"
    for kind, name in set(re.findall(r"(?<![\w.])(google_\w+)\.(\w+)", joined)):
        assert (kind, name) in config.resources, f"undeclared resource {kind}.{name}"
    for kind, name in set(re.findall(r"\bdata\.(google_\w+)\.(\w+)", joined)):
        assert (kind, name) in config.data, f"undeclared data source {kind}.{name}"


def test_provider_is_pinned(config: Config) -> None:
    versions = (TERRAFORM_DIR / "versions.tf").read_text()
    assert re.search(r'source\s*=\s*"hashicorp/google"', versions)
    pin = re.search(r'(?<!_)version\s*=\s*"(?P<pin>[^"]+)"', versions)
    assert pin and re.search(r"<\s*\d+", pin["pin"]), "pin the google provider with an upper bound"
    assert "google-beta" not in "".join(config.texts.values())


# --- Firestore --------------------------------------------------------------------------


def test_operator_queries_have_their_firestore_indexes(config: Config) -> None:
    sessions = config.resource("google_firestore_index", "completed_sessions_by_start")
    assert (sessions["collection"], sessions["query_scope"]) == ("sessions", "COLLECTION_GROUP")
    assert [f["field_path"] for f in blocks(sessions, "fields")][:2] == ["status", "startTime"]
    failures = config.resource("google_firestore_index", "failures_by_status_and_age")
    assert failures["collection"] == "bigquerySyncFailures"
    assert [(f["field_path"], f["order"]) for f in blocks(failures, "fields")][:2] == [
        ("status", "ASCENDING"),
        ("createdAt", "DESCENDING"),
    ]
