"""The view analysts query leaves `doctor --canary` sessions out, and still dedupes the rest."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from google.cloud import bigquery

from cli.doctor.canary import CANARY_SESSION_PREFIX
from cli.local.provision import latest_view_sql
from cli.local.stack import LocalStack
from shared.gcp import clients
from shared.settings import Settings

pytestmark = pytest.mark.integration


def _row(user: str, session: str, second: int) -> dict[str, object]:
    return {
        "user_id_hash": user,
        "session_id": session,
        "exercise_type": "squat",
        "start_time": "2026-01-02T10:00:00Z",
        "created_at": "2026-01-02T10:00:00Z",
        "synced_at": f"2026-01-02T10:05:{second:02d}Z",
        "warnings": [],
    }


@pytest.fixture
def view_of_the_shared_sql(
    clean_stack: LocalStack, local_settings: Settings
) -> Iterator[tuple[bigquery.Client, str]]:
    """A view made from shared/sql/sessions_latest.sql over the table, whatever the stack's
    own view was provisioned from; dropped afterwards."""
    view_id = f"{local_settings.latest_view_id}_{uuid.uuid4().hex[:8]}"
    view = bigquery.Table(view_id)
    view.view_query = latest_view_sql(local_settings)
    with clients.bigquery_client(local_settings) as bq:
        bq.create_table(view, timeout=10)
        try:
            yield bq, view_id
        finally:
            bq.delete_table(view_id, not_found_ok=True, timeout=10)


def test_canary_sessions_stay_out_of_the_view(
    view_of_the_shared_sql: tuple[bigquery.Client, str], local_settings: Settings
) -> None:
    bq, view_id = view_of_the_shared_sql
    canary = f"{CANARY_SESSION_PREFIX}20260102T100000-abc123"
    rows = [
        _row("user-a", "s1", 1),
        _row("user-a", "s1", 3),
        _row("canary-hash", canary, 2),
        _row("user-b", "session-sync-canary", 4),  # the reserved user id as a session id: kept
    ]
    assert bq.insert_rows_json(local_settings.table_id, rows, timeout=10) == []

    seen = [
        (row.session_id, row.synced_at.second)
        for row in bq.query(f"SELECT * FROM `{view_id}` ORDER BY session_id").result(timeout=10)
    ]
    raw = [
        row.session_id
        for row in bq.query(
            f"SELECT session_id FROM `{local_settings.table_id}` WHERE session_id = @s",
            job_config=bigquery.QueryJobConfig(
                query_parameters=[bigquery.ScalarQueryParameter("s", "STRING", canary)]
            ),
        ).result(timeout=10)
    ]

    assert seen == [("s1", 3), ("session-sync-canary", 4)]
    assert raw == [canary]  # the raw table keeps it; only the view leaves it out
