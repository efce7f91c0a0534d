"""Outputs an operator copies into settings hold exactly what the functions receive."""

from __future__ import annotations

import re

import pytest

from shared.settings import ENV_NAMES
from tests.terraform.hcl_config import Config, expression, single_block, terraform_config

FUNCTIONS = ("trigger", "sync_worker", "retry_worker")
# What an operator exports to run session-sync against this deployment.
OPERATOR_SETTINGS = {
    "PIPELINE_MODE",
    "GOOGLE_CLOUD_PROJECT",
    "BQ_DATASET",
    "BQ_TABLE",
    "BQ_LATEST_VIEW",
    "BQ_LOCATION",
    "PUBSUB_TOPIC",
    "PUBSUB_DEAD_LETTER_TOPIC",
    "PUBSUB_PUSH_SUBSCRIPTION",
    "TASKS_LOCATION",
    "TASKS_QUEUE",
    "REDRIVE_RETENTION_HOURS",
    "RECONCILE_WINDOW_HOURS",
}
SETTING_IN_DESCRIPTION = re.compile(r"\((?P<name>[A-Z][A-Z0-9_]+)\)")


@pytest.fixture(scope="module")
def config() -> Config:
    return terraform_config()


def function_settings(config: Config) -> dict[str, str]:
    """Every plain environment value a function receives, by setting name."""
    values: dict[str, str] = {}
    for key in FUNCTIONS:
        service = single_block(
            config.resource("google_cloudfunctions2_function", key), "service_config"
        )
        for name, value in config.resolve(service["environment_variables"]).items():
            assert values.setdefault(name, value) == value, f"{name} differs between functions"
    return values


def labelled_outputs(config: Config) -> dict[str, str]:
    """Output name -> the setting its description says it holds, as `(SETTING)`."""
    labelled = {}
    for name, body in config.outputs.items():
        match = SETTING_IN_DESCRIPTION.search(body["description"])
        if match and match["name"] in ENV_NAMES:
            labelled[name] = match["name"]
    return labelled


def test_settings_outputs_are_short_names(config: Config) -> None:
    labelled = labelled_outputs(config)
    assert {"PUBSUB_TOPIC", "PUBSUB_DEAD_LETTER_TOPIC", "TASKS_QUEUE"} <= set(labelled.values())
    for name, setting in labelled.items():
        value = expression(config.outputs[name]["value"])
        assert value is None or not value.endswith(".id"), (
            f"output {name} ({setting}) returns a full resource id; the setting takes a short name"
        )


def test_settings_outputs_equal_what_the_functions_receive(config: Config) -> None:
    settings = function_settings(config)
    for name, setting in labelled_outputs(config).items():
        if setting in settings:
            assert config.outputs[name]["value"] == settings[setting], f"output {name}"


def test_salt_outputs_name_the_pinned_version_the_functions_read(config: Config) -> None:
    assert expression(config.outputs["salt_secret"]["value"]) == (
        "google_secret_manager_secret.salt.secret_id"
    )
    assert expression(config.outputs["salt_secret_version"]["value"]) == "var.salt_secret_version"
    for key in ("sync_worker", "retry_worker"):
        service = single_block(
            config.resource("google_cloudfunctions2_function", key), "service_config"
        )
        (salt,) = service["secret_environment_variables"]
        assert expression(salt["secret"]) == "google_secret_manager_secret.salt.secret_id"
        assert expression(salt["version"]) == "var.salt_secret_version"


def test_operator_env_renders_the_operator_settings(config: Config) -> None:
    settings = config.locals["operator_settings"]
    assert set(settings) == OPERATOR_SETTINGS
    assert settings["PIPELINE_MODE"] == "cloud"
    received = function_settings(config)
    for name, value in settings.items():
        if name in received:
            assert value == received[name], f"operator_env's {name} differs from the functions'"
    assert expression(settings["PUBSUB_PUSH_SUBSCRIPTION"]) == (
        "google_pubsub_subscription.sync_worker_push.name"
    )
    rendered = config.outputs["operator_env"]["value"]
    assert "local.operator_settings" in rendered
    assert '"${key}=${value}' in rendered, "one KEY=value line per setting"


def test_operator_env_says_how_to_read_the_pinned_salt_not_the_salt(config: Config) -> None:
    rendered = config.expand(config.outputs["operator_env"]["value"])
    assert "PSEUDONYMIZATION_SALT" not in config.locals["operator_settings"]
    command = re.search(r"gcloud secrets versions access (\S+) --secret=(\S+)", rendered)
    assert command, "operator_env must show the command that reads the salt"
    assert command[1] == "${var.salt_secret_version}"
    assert command[2] == "${google_secret_manager_secret.salt.secret_id}"
    assert "latest" not in rendered
