"""Every number terraform passes to a function lies in the range shared/settings.py accepts.

A value the code refuses stops the function at start-up, after a successful apply; so the
bounds of each variable's validation rule are loaded through `load_settings` here.
"""

from __future__ import annotations

import re

import pytest

from shared.errors import ConfigError
from shared.settings import load_settings
from tests.terraform.hcl_config import Config, expression, single_block, terraform_config

FUNCTIONS = ("trigger", "sync_worker", "retry_worker")


@pytest.fixture(scope="module")
def config() -> Config:
    return terraform_config()


def numeric_settings(config: Config) -> dict[str, str]:
    """Setting -> the variable reference it is `tostring()` of, across the functions."""
    found: dict[str, str] = {}
    for key in FUNCTIONS:
        function = config.resource("google_cloudfunctions2_function", key)
        env = config.resolve(single_block(function, "service_config")["environment_variables"])
        for name, value in env.items():
            match = re.fullmatch(r"tostring\((var\.[\w.]+)\)", expression(value) or "")
            if match:
                found[name] = match[1]
    return found


def bounds(config: Config, reference: str) -> tuple[int, int]:
    """The lowest and highest value the variable's validation rules allow for `reference`."""
    variable = reference.split(".")[1]
    rules = " ".join(rule["condition"] for rule in config.variables[variable]["validation"])
    low = re.search(rf"{re.escape(reference)} >= (\d+)", rules)
    high = re.search(rf"{re.escape(reference)} <= (\d+)", rules)
    assert low and high, f"{reference} needs both bounds in its validation rule"
    return int(low[1]), int(high[1])


def test_the_numbers_are_found(config: Config) -> None:
    assert {
        "SYNC_MAX_RETRIES",
        "TASKS_DISPATCH_DEADLINE_SECONDS",
        "REDRIVE_RETENTION_HOURS",
        "RECONCILE_WINDOW_HOURS",
        "BATCH_WINDOW_MS",
        "BATCH_MAX_ROWS",
    } <= set(numeric_settings(config))


def test_the_code_accepts_every_value_terraform_allows(config: Config) -> None:
    refused = []
    for name, reference in sorted(numeric_settings(config).items()):
        for value in bounds(config, reference):
            environ = {"PIPELINE_MODE": "cloud", "GOOGLE_CLOUD_PROJECT": "p", name: str(value)}
            try:
                load_settings(environ)
            except ConfigError as error:
                refused.append(f"{name}={value} ({reference}): {error}")
    assert not refused, "terraform allows values the functions refuse:\n" + "\n".join(refused)
