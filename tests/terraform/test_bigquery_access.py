"""Who may touch what in BigQuery: table-level grants, nothing dataset-wide for the workers."""

from __future__ import annotations

import pytest

from tests.terraform.hcl_config import Config, expression, grantees, terraform_config

WORKERS = ("sync_worker", "retry_worker")


@pytest.fixture(scope="module")
def config() -> Config:
    return terraform_config()


def grants(config: Config, kind: str) -> list[tuple[str, str | None, set[str]]]:
    """(role, table expression, members) of every binding of `kind`."""
    return [
        (body["role"], expression(body.get("table_id")), grantees(body))
        for body in config.of_type(kind).values()
    ]


def test_workers_get_nothing_dataset_wide(config: Config) -> None:
    for role, _, members in grants(config, "google_bigquery_dataset_iam_member"):
        assert not members & set(WORKERS), f"{role} on the whole dataset for {members}"


def test_workers_insert_into_the_sessions_table_only(config: Config) -> None:
    editors = [
        (table, members)
        for role, table, members in grants(config, "google_bigquery_table_iam_member")
        if role == "roles/bigquery.dataEditor" and members & set(WORKERS)
    ]
    assert editors == [("google_bigquery_table.sessions.table_id", set(WORKERS))]


def test_every_data_editor_grant_is_on_the_sessions_table(config: Config) -> None:
    tables = {
        table
        for role, table, _ in grants(config, "google_bigquery_table_iam_member")
        if role == "roles/bigquery.dataEditor"
    }
    assert tables == {"google_bigquery_table.sessions.table_id"}
