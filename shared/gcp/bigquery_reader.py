"""`RowReader` over BigQuery query jobs: the latest rows and raw duplicates, paged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from google.cloud import bigquery

from shared.gcp.errors import briefly_retried, translated
from shared.ports import RawDuplicates
from shared.schema import columns

PAGE_ROWS = 5000


class BigQueryRowReader:
    """Runs read-only queries against the `sessions` table and the `sessions_latest` view.

    Results are fetched page by page (`page_rows` rows per request), so memory
    stays bounded by one page whatever the table size.
    """

    def __init__(
        self,
        client: Any,
        *,
        table_id: str,
        latest_view_id: str,
        timeout: float = 30.0,
        page_rows: int = PAGE_ROWS,
    ) -> None:
        self._client = client
        self._table_id = table_id
        self._latest_view_id = latest_view_id
        self._timeout = timeout
        self._page_rows = page_rows

    def latest_rows(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stream `sessions_latest` by (user_id_hash, session_id); raises `TransientError`."""
        where, parameters = _start_time_filter(since, until)
        sql = f"SELECT * FROM `{self._latest_view_id}`{where} ORDER BY user_id_hash, session_id"
        with translated("read sessions_latest"):
            rows = self._run(sql, parameters).result(
                page_size=self._page_rows, timeout=self._timeout
            )
            for page in rows.pages:
                for row in page:
                    yield dict(row.items())

    def raw_duplicates(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> RawDuplicates:
        """Group `sessions` by every column but `synced_at`; count the groups with repeats."""
        where, parameters = _start_time_filter(since, until)
        grouping = ", ".join(
            f"TO_JSON_STRING({column.name})" if column.repeated else column.name
            for column in columns()
            if column.name != "synced_at"
        )
        sql = (
            "SELECT COUNT(DISTINCT CONCAT(user_id_hash, '/', session_id)) AS sessions,"
            " COALESCE(SUM(copies - 1), 0) AS extra_rows"
            " FROM (SELECT user_id_hash, session_id, COUNT(*) AS copies"
            f" FROM `{self._table_id}`{where} GROUP BY {grouping} HAVING COUNT(*) > 1)"
        )
        with translated("count raw duplicates"):
            [row] = list(self._run(sql, parameters).result(timeout=self._timeout))
        return RawDuplicates(int(row["sessions"] or 0), int(row["extra_rows"] or 0))

    @briefly_retried
    def _run(self, sql: str, parameters: list[bigquery.ScalarQueryParameter]) -> Any:
        config = bigquery.QueryJobConfig(query_parameters=parameters)
        with translated("start query"):
            return self._client.query(sql, job_config=config, timeout=self._timeout)


def _start_time_filter(
    since: datetime | None, until: datetime | None
) -> tuple[str, list[bigquery.ScalarQueryParameter]]:
    """A `WHERE` clause on `start_time` and its query parameters."""
    conditions: list[str] = []
    parameters: list[bigquery.ScalarQueryParameter] = []
    if since is not None:
        conditions.append("start_time >= @since")
        parameters.append(bigquery.ScalarQueryParameter("since", "TIMESTAMP", since))
    if until is not None:
        conditions.append("start_time < @until")
        parameters.append(bigquery.ScalarQueryParameter("until", "TIMESTAMP", until))
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return where, parameters
