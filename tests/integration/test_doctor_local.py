"""`session-sync doctor` on the running local stack: it passes, `--canary` reports a latency,
and a deliberately broken stack gives the matching ✗ lines and exit 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from google.cloud import bigquery
from google.cloud.firestore_v1.base_query import FieldFilter
from google.protobuf import field_mask_pb2

from cli.local.provision import latest_view_sql, provision, table_schema
from cli.local.stack import LocalStack
from cli.local.wiring import create_subscriptions
from cli.main import main
from shared.gcp import clients
from shared.gcp.firestore_failures import COLLECTION as FAILURES
from shared.model import CANARY_SESSION_PREFIX, CANARY_USER_ID
from shared.settings import Settings

pytestmark = pytest.mark.integration


def doctor(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["doctor", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in report["checks"]}


@pytest.fixture
def current_view(local_stack: LocalStack, local_settings: Settings) -> None:
    """The stack's view as shared/sql/sessions_latest.sql defines it now (a stack started
    before a change of the SQL keeps its old view: provisioning never replaces one)."""
    view = bigquery.Table(local_settings.latest_view_id)
    view.view_query = latest_view_sql(local_settings)
    with clients.bigquery_client(local_settings) as bq:
        bq.delete_table(view, not_found_ok=True, timeout=10)
        bq.create_table(view, timeout=10)


def test_doctor_passes_on_the_local_stack(
    clean_stack: LocalStack, current_view: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert not [line for line in lines if line.startswith("✗")]
    for name in ("dead-letter policy", "retry policy", "push audience", "table schema", "view"):
        assert any(line.startswith(f"✓ {name}: ") for line in lines), name
    skipped = [line for line in lines if line.startswith("- ")]
    assert {line.split(":")[0] for line in skipped} == {
        "- scheduled jobs",
        "- functions refuse unauthenticated requests",
        "- salt",
        "- IAM",
    }
    assert all(": skipped: on the local stack: " in line for line in skipped)


def test_canary_reports_its_latency_and_leaves_nothing_behind(
    clean_stack: LocalStack,
    current_view: None,
    local_settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = doctor(capsys, "--canary")

    canary = report["canary"]
    assert code == 0, [c for c in report["checks"] if c["state"] == "fail"]
    assert canary["status"] == "synced"
    assert 0 < canary["latency_seconds"] < 30
    assert canary["in_view"] is False and canary["cleaned_up"] is True
    assert canary["user_id"] == CANARY_USER_ID
    assert canary["session_id"].startswith(CANARY_SESSION_PREFIX)
    assert "after the write" in checks(report)["canary"]["detail"]
    firestore = clients.firestore_client(local_settings)
    path = f"users/{CANARY_USER_ID}/sessions/{canary['session_id']}"
    assert not firestore.document(path).get().exists
    key = f"{CANARY_USER_ID}/{canary['session_id']}"
    records = firestore.collection(FAILURES).where(filter=FieldFilter("sessionKey", "==", key))
    assert list(records.stream()) == []
    with clients.bigquery_client(local_settings) as bq:
        config = bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter("s", "STRING", canary["session_id"])]
        )
        raw = f"SELECT COUNT(*) AS n FROM `{local_settings.table_id}` WHERE session_id = @s"
        view = f"SELECT COUNT(*) AS n FROM `{local_settings.latest_view_id}` WHERE session_id = @s"
        assert next(iter(bq.query(raw, job_config=config).result())).n == 1
        assert next(iter(bq.query(view, job_config=config).result())).n == 0


@pytest.fixture
def without_dead_letter_policy(local_stack: LocalStack, local_settings: Settings) -> Iterator[None]:
    subscriber = clients.subscriber_client(local_settings)
    path = subscriber.subscription_path(local_settings.project, local_settings.push_subscription)
    subscriber.update_subscription(
        request={
            "subscription": {"name": path},
            "update_mask": field_mask_pb2.FieldMask(paths=["dead_letter_policy"]),
        }
    )
    try:
        yield
    finally:  # as the stack provisions it
        subscriber.delete_subscription(subscription=path)
        create_subscriptions(local_settings)


def test_a_dropped_dead_letter_policy_fails_its_line(
    without_dead_letter_policy: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = doctor(capsys)

    line = checks(report)["dead-letter policy"]
    assert code == 1
    assert line["state"] == "fail"
    assert "has none" in line["detail"]
    assert "session-sync local down" in line["fix"]
    assert [c["name"] for c in report["checks"] if c["state"] == "fail"] == ["dead-letter policy"]


def test_a_wrong_audience_setting_fails_the_audience_line(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PUSH_AUDIENCE", "https://wrong.example.com/sync")

    code, report = doctor(capsys)

    line = checks(report)["push audience"]
    assert code == 1
    assert line["state"] == "fail"
    assert "expects https://wrong.example.com/sync" in line["detail"]
    assert "PUSH_AUDIENCE" in line["fix"]


@pytest.fixture
def table_missing_a_column(clean_stack: LocalStack, local_settings: Settings) -> Iterator[str]:
    missing = "overall_score"
    table = bigquery.Table(
        local_settings.table_id,
        schema=[field for field in table_schema() if field.name != missing],
    )
    table.time_partitioning = bigquery.TimePartitioning(field="start_time")
    table.clustering_fields = ["exercise_type", "user_id_hash"]
    with clients.bigquery_client(local_settings) as bq:
        bq.delete_table(local_settings.table_id, timeout=10)
        bq.create_table(table, timeout=10)
        try:
            yield missing
        finally:
            bq.delete_table(local_settings.table_id, timeout=10)
            provision(local_settings)  # the table again, from shared/schema.json


def test_a_table_missing_a_column_fails_the_schema_line(
    table_missing_a_column: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = doctor(capsys)

    line = checks(report)["table schema"]
    assert code == 1
    assert line["state"] == "fail"
    assert f"missing column(s) {table_missing_a_column}" in line["detail"]
    text = main(["doctor"]) and capsys.readouterr().out
    assert "✗ table schema: " in text
    assert "    fix: run `session-sync local down` then `session-sync local up`" in text
