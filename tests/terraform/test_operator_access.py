"""operator_members get exactly what session-sync's operator commands need, nothing else.

replay, backfill, failures list, reconcile, redrive, doctor and status read Firestore and
write failure records, publish to the topic, drain the dead-letter hold subscription, query
BigQuery, read the pinned salt, and read the backlogs and resource state.
"""

from __future__ import annotations

import re

import pytest

from tests.terraform.hcl_config import Config, expression, single_block, terraform_config

# (resource type, literal role) -> the targets it is bound to, as the target expressions.
EXPECTED = {
    ("google_project_iam_member", "roles/datastore.user"): {"var.project_id"},
    ("google_project_iam_member", "roles/bigquery.jobUser"): {"var.project_id"},
    ("google_project_iam_member", "roles/monitoring.viewer"): {"var.project_id"},
    ("google_project_iam_member", "roles/cloudscheduler.viewer"): {"var.project_id"},
    ("google_pubsub_topic_iam_member", "roles/pubsub.publisher"): {
        "google_pubsub_topic.session_completed.name"
    },
    ("google_pubsub_topic_iam_member", "roles/pubsub.viewer"): {
        "google_pubsub_topic.session_completed.name",
        "google_pubsub_topic.dead_letter.name",
    },
    ("google_pubsub_subscription_iam_member", "roles/pubsub.subscriber"): {
        "google_pubsub_subscription.dead_letter_hold.name"
    },
    ("google_pubsub_subscription_iam_member", "roles/pubsub.viewer"): {
        "google_pubsub_subscription.sync_worker_push.name",
        "google_pubsub_subscription.dead_letter_hold.name",
    },
    ("google_bigquery_dataset_iam_member", "roles/bigquery.dataViewer"): {
        "google_bigquery_dataset.analytics.dataset_id"
    },
    # `redrive` syncs one episode as its probe: it inserts into the sessions table only.
    ("google_bigquery_table_iam_member", "roles/bigquery.dataEditor"): {
        "google_bigquery_table.sessions.table_id"
    },
    ("google_secret_manager_secret_iam_member", "roles/secretmanager.secretAccessor"): {
        "google_secret_manager_secret.salt.secret_id"
    },
    ("google_secret_manager_secret_iam_member", "roles/secretmanager.viewer"): {
        "google_secret_manager_secret.salt.secret_id"
    },
    ("google_cloud_tasks_queue_iam_member", "roles/cloudtasks.viewer"): {
        "google_cloud_tasks_queue.bigquery_sync.name"
    },
    ("google_cloudfunctions2_function_iam_member", "roles/cloudfunctions.viewer"): {
        "google_cloudfunctions2_function.trigger.name",
        "google_cloudfunctions2_function.sync_worker.name",
        "google_cloudfunctions2_function.retry_worker.name",
    },
}
TARGET_ATTRIBUTES = (
    "topic",
    "subscription",
    "table_id",
    "dataset_id",
    "secret_id",
    "cloud_function",
    "name",
)


@pytest.fixture(scope="module")
def config() -> Config:
    return terraform_config()


def operator_bindings(config: Config) -> dict[tuple[str, str], dict[str, object]]:
    """(type, name) -> body of every IAM member resource iterating over operator_members."""
    return {
        key: body
        for key, body in config.resources.items()
        if key[0].endswith("_iam_member")
        and "var.operator_members" in str(config.resolve(body.get("for_each")))
    }


def targets(config: Config, body: dict[str, object]) -> set[str]:
    """The target expressions of a binding, following `each.value.<x>` into its for_each."""
    for attribute in TARGET_ATTRIBUTES:
        if attribute in body:
            written = expression(body[attribute])
            break
    else:
        written = expression(body["project"])
    assert written is not None
    if not written.startswith("each.value"):
        return {written}
    table = re.search(r"local\.(\w+)", str(body["for_each"]))
    assert table, f"each.value targets must come from a local map: {body['for_each']}"
    return {expression(value) or value for value in config.locals[table[1]].values()}


def test_operator_members_is_an_optional_list_of_iam_members(config: Config) -> None:
    variable = config.variables["operator_members"]
    assert variable["default"] == []
    rules = " ".join(rule["condition"] for rule in variable["validation"])
    assert "user|group|serviceAccount" in rules


def test_operators_get_exactly_the_expected_roles_on_the_expected_resources(
    config: Config,
) -> None:
    granted: dict[tuple[str, str], set[str]] = {}
    for (kind, name), body in operator_bindings(config).items():
        role = body["role"]
        assert isinstance(role, str) and expression(role) is None, f"{kind}.{name}: literal role"
        granted.setdefault((kind, role), set()).update(targets(config, body))
    assert granted == EXPECTED


def test_operator_firestore_access_is_limited_to_the_database(config: Config) -> None:
    (firestore,) = [
        body
        for body in operator_bindings(config).values()
        if body["role"] == "roles/datastore.user"
    ]
    condition = single_block(firestore, "condition")
    assert "databases/${local.firestore_database}" in condition["expression"]
