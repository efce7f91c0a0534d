"""Teardown is a variable, not a hand edit: allow_destroy lifts every protection at once."""

from __future__ import annotations

import pytest

from tests.terraform.hcl_config import Config, expression, terraform_config

PROTECTED = "!var.allow_destroy"
RELEASED = "var.allow_destroy"


@pytest.fixture(scope="module")
def config() -> Config:
    return terraform_config()


def test_allow_destroy_is_off_by_default(config: Config) -> None:
    variable = config.variables["allow_destroy"]
    assert variable["type"] in ("bool", "${bool}")
    assert variable["default"] is False


@pytest.mark.parametrize(
    ("kind", "name", "attribute", "value"),
    [
        ("google_bigquery_table", "sessions", "deletion_protection", PROTECTED),
        ("google_bigquery_table", "sessions_latest", "deletion_protection", PROTECTED),
        ("google_bigquery_dataset", "analytics", "delete_contents_on_destroy", RELEASED),
        ("google_storage_bucket", "source", "force_destroy", RELEASED),
        ("google_secret_manager_secret", "salt", "deletion_protection", PROTECTED),
    ],
)
def test_protection_follows_allow_destroy(
    config: Config, kind: str, name: str, attribute: str, value: str
) -> None:
    assert expression(config.resource(kind, name).get(attribute)) == value, (
        f"{kind}.{name}.{attribute} must be {value}"
    )


def test_no_protection_is_hard_coded(config: Config) -> None:
    for kind, name in config.resources:
        body = config.resources[(kind, name)]
        for attribute in ("deletion_protection", "force_destroy", "delete_contents_on_destroy"):
            if attribute in body:
                assert expression(body[attribute]) in (PROTECTED, RELEASED), f"{kind}.{name}"
