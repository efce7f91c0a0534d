"""One timeout for the retry worker and for the tasks that call it.

Cloud Tasks cancels a task when its dispatch deadline passes, so the sync worker, which
creates the tasks, must use the retry worker's timeout as the deadline, and that timeout
must lie within Cloud Tasks' range for HTTP targets (15 s to 30 min).
"""

from __future__ import annotations

import pytest

from tests.terraform.hcl_config import Config, expression, single_block, terraform_config

RETRY_TIMEOUT = "var.retry_worker_scaling.timeout_seconds"


@pytest.fixture(scope="module")
def config() -> Config:
    return terraform_config()


def test_sync_worker_creates_tasks_with_the_retry_workers_timeout(config: Config) -> None:
    service = single_block(
        config.resource("google_cloudfunctions2_function", "sync_worker"), "service_config"
    )
    env = config.resolve(service["environment_variables"])
    assert expression(env["TASKS_DISPATCH_DEADLINE_SECONDS"]) == f"tostring({RETRY_TIMEOUT})"
    retry = single_block(
        config.resource("google_cloudfunctions2_function", "retry_worker"), "service_config"
    )
    assert expression(retry["timeout_seconds"]) == RETRY_TIMEOUT


def test_retry_worker_timeout_rule_is_cloud_tasks_range(config: Config) -> None:
    rules = " ".join(
        rule["condition"] for rule in config.variables["retry_worker_scaling"]["validation"]
    )
    assert f"{RETRY_TIMEOUT} >= 15" in rules
    assert f"{RETRY_TIMEOUT} <= 1800" in rules
