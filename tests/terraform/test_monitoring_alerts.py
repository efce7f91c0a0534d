"""Alerts on retry-worker log lines must not depend on a log-based metric of the same apply.

Monitoring needs up to ten minutes to know a new log-based metric; an alert policy created
right after it fails with 404 "Cannot find metric(s)". The alerts therefore match the log
lines themselves (a log-match condition), and the metrics, on the same filter, only count.
"""

from __future__ import annotations

import pytest

from tests.terraform.hcl_config import Config, blocks, expression, single_block, terraform_config

# The retry worker's log message -> (metric, alert policy) resources that watch it.
LOG_ALERTS = {
    "sync_abandoned": ("sync_abandoned", "sync_abandoned"),
    "sync_final": ("sync_final", "sync_final"),
}
RETRY_WORKER = '"${google_cloudfunctions2_function.retry_worker.name}"'


@pytest.fixture(scope="module")
def config() -> Config:
    return terraform_config()


def test_no_alert_waits_for_a_metric_created_in_the_same_apply(config: Config) -> None:
    for name, policy in config.of_type("google_monitoring_alert_policy").items():
        for condition in blocks(policy, "conditions"):
            for threshold in blocks(condition, "condition_threshold"):
                assert "logging.googleapis.com/user/" not in threshold["filter"], (
                    f"alert policy {name} reads a log-based metric Monitoring may not know yet"
                )


@pytest.mark.parametrize("message", sorted(LOG_ALERTS))
def test_log_line_alert_matches_the_metric_filter(config: Config, message: str) -> None:
    metric_name, policy_name = LOG_ALERTS[message]
    metric = config.resource("google_logging_metric", metric_name)
    filter_text = config.expand(metric["filter"])
    assert f'jsonPayload.message = "{message}"' in filter_text
    assert f"resource.labels.service_name = {RETRY_WORKER}" in filter_text

    policy = config.resource("google_monitoring_alert_policy", policy_name)
    (condition,) = blocks(policy, "conditions")
    matched = single_block(condition, "condition_matched_log")
    assert matched["filter"] == metric["filter"], "alert and metric must watch the same lines"
    assert expression(metric["filter"]) is not None, "share the filter through a local"
    strategy = single_block(policy, "alert_strategy")
    assert single_block(strategy, "notification_rate_limit")["period"]
    assert expression(policy["notification_channels"]) == "var.notification_channels"


def test_final_episode_alert_tells_the_operator_how_to_replay(config: Config) -> None:
    policy = config.resource("google_monitoring_alert_policy", "sync_final")
    content = single_block(policy, "documentation")["content"]
    assert "session-sync replay --failures abandoned" in content
