"""The self-healing layer: scheduled redrive and reconcile calls to the retry worker.

Both jobs call the retry worker the way Cloud Tasks does (same OIDC identity, same
audience), so the worker checks one kind of token; they never retry, since the next tick
comes anyway, and give up before the worker's own timeout.
"""

from __future__ import annotations

import pytest

from tests.terraform.hcl_config import (
    Config,
    expression,
    grantees,
    single_block,
    terraform_config,
)

JOBS = {
    "redrive": ("/redrive", "var.redrive_schedule", "*/5 * * * *"),
    "reconcile": ("/reconcile", "var.reconcile_schedule", "0 3 * * *"),
}
RETRY_WORKER_URL = "${google_cloudfunctions2_function.retry_worker.url}"
TASKS_INVOKER_EMAIL = '${google_service_account.component["tasks_invoker"].email}'
RETENTION = "var.message_retention_hours"


@pytest.fixture(scope="module")
def config() -> Config:
    return terraform_config()


def retry_env(config: Config) -> dict[str, str]:
    function = config.resource("google_cloudfunctions2_function", "retry_worker")
    return config.resolve(single_block(function, "service_config")["environment_variables"])


@pytest.mark.parametrize("name", sorted(JOBS))
def test_job_posts_to_its_retry_worker_path_with_the_tasks_identity(
    config: Config, name: str
) -> None:
    path, schedule, default = JOBS[name]
    job = config.resource("google_cloud_scheduler_job", name)
    target = single_block(job, "http_target")
    assert target["http_method"] == "POST"
    assert target["uri"] == RETRY_WORKER_URL + path
    oidc = single_block(target, "oidc_token")
    assert oidc["service_account_email"] == TASKS_INVOKER_EMAIL
    assert expression(oidc["audience"]) == "local.tasks_audience"
    assert retry_env(config)["TASKS_AUDIENCE"] == oidc["audience"], "the audience the worker checks"
    assert retry_env(config)["TASKS_SERVICE_ACCOUNT"] == oidc["service_account_email"]

    assert expression(job["schedule"]) == schedule
    assert config.resolve(job["schedule"]) == default
    assert expression(job["time_zone"]) == "var.scheduler_time_zone"
    assert config.variables["scheduler_time_zone"]["default"] == "Etc/UTC"
    assert expression(job["region"]) == "local.scheduler_region"
    assert single_block(job, "retry_config")["retry_count"] == 0
    assert job["attempt_deadline"] == "${var.retry_worker_scaling.timeout_seconds}s", (
        "give up no later than the retry worker does"
    )


def test_scheduler_region_defaults_to_the_functions_region(config: Config) -> None:
    assert expression(config.locals["scheduler_region"]) == (
        "coalesce(var.scheduler_region, var.region)"
    )
    assert config.variables["scheduler_region"]["default"] is None
    assert "cloudscheduler.googleapis.com" in expression(config.locals["required_apis"])


def test_retry_worker_gets_the_self_healing_settings(config: Config) -> None:
    env = retry_env(config)
    assert expression(env["PUBSUB_TOPIC"]) == "google_pubsub_topic.session_completed.name"
    assert expression(env["BQ_LATEST_VIEW"]) == "google_bigquery_table.sessions_latest.table_id"
    assert expression(env["RECONCILE_WINDOW_HOURS"]) == "tostring(var.reconcile_window_hours)"
    assert config.variables["reconcile_window_hours"]["default"] == 72
    assert expression(env["REDRIVE_RETENTION_HOURS"]) == f"tostring({RETENTION})"


def test_redrive_window_is_the_push_subscriptions_retention(config: Config) -> None:
    subscription = config.resource("google_pubsub_subscription", "sync_worker_push")
    assert subscription["message_retention_duration"] == f"${{{RETENTION} * 3600}}s"
    assert config.variables["message_retention_hours"]["default"] == 7 * 24


def test_retry_worker_publishes_to_the_main_topic_only(config: Config) -> None:
    topics = [
        expression(body["topic"])
        for body in config.of_type("google_pubsub_topic_iam_member").values()
        if "retry_worker" in grantees(body)
    ]
    assert topics == ["google_pubsub_topic.session_completed.name"]
    (publisher,) = [
        body
        for body in config.of_type("google_pubsub_topic_iam_member").values()
        if "retry_worker" in grantees(body)
    ]
    assert publisher["role"] == "roles/pubsub.publisher"


def test_retry_worker_runs_reconcile_queries_in_the_project(config: Config) -> None:
    roles = {
        body["role"]
        for body in config.of_type("google_project_iam_member").values()
        if "retry_worker" in grantees(body)
    }
    assert "roles/bigquery.jobUser" in roles


def test_retry_worker_reads_the_sessions_table_and_view_only(config: Config) -> None:
    readers = [
        body
        for body in config.of_type("google_bigquery_table_iam_member").values()
        if body["role"] == "roles/bigquery.dataViewer"
    ]
    assert len(readers) == 1
    (reader,) = readers
    assert grantees(reader) == {"retry_worker"}
    assert expression(reader["table_id"]) == "each.value"
    assert {expression(v) for v in reader["for_each"].values()} == {
        "google_bigquery_table.sessions.table_id",
        "google_bigquery_table.sessions_latest.table_id",
    }
    for body in config.of_type("google_bigquery_dataset_iam_member").values():
        assert "retry_worker" not in grantees(body)
