"""`RowSink` over BigQuery streaming inserts (insertAll) with insert ids."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.errors import PermanentError, PipelineError, TransientError
from shared.gcp.errors import briefly_retried, translated
from shared.schema import validate_row

# insertErrors reasons caused by the row itself; anything else may succeed on retry.
_PERMANENT_REASONS = frozenset({"invalid", "invalidQuery", "notFound"})


class BigQueryRowSink:
    """Streams validated rows into one table; `insertId` = the key of each row."""

    def __init__(self, client: Any, table_id: str, *, timeout: float = 10.0) -> None:
        self._client = client
        self._table_id = table_id
        self._timeout = timeout

    def insert(self, rows: Mapping[str, dict[str, Any]]) -> dict[str, PipelineError]:
        """Validate every row, then one insertAll for the valid ones.

        Rows violating `schema.json` come back as `PermanentError` without any
        network call. BigQuery stores the rows it accepts even when it rejects
        others; the per-row `insertErrors` are classified. A failed request
        raises `TransientError` (after at most 3 quick attempts).
        """
        errors: dict[str, PipelineError] = {}
        valid: dict[str, dict[str, Any]] = {}
        for insert_id, row in rows.items():
            try:
                validate_row(row)
            except PermanentError as error:
                errors[insert_id] = error
            else:
                valid[insert_id] = row
        if valid:
            errors.update(self._insert_all(valid))
        return errors

    @briefly_retried
    def _insert_all(self, rows: dict[str, dict[str, Any]]) -> dict[str, PipelineError]:
        insert_ids = list(rows)
        with translated("insert rows"):
            response = self._client.insert_rows_json(
                self._table_id,
                [rows[insert_id] for insert_id in insert_ids],
                row_ids=insert_ids,
                # Without it, one row BigQuery rejects fails the whole micro-batch
                # (the others come back "stopped", the emulator answers HTTP 500).
                skip_invalid_rows=True,
                retry=None,
                timeout=self._timeout,
            )
        return {insert_ids[item["index"]]: _row_error(item) for item in response}


def _row_error(item: Mapping[str, Any]) -> PipelineError:
    details = item.get("errors") or [{}]
    reasons = {detail.get("reason", "") for detail in details}
    message = "; ".join(str(d.get("message") or d.get("reason") or "unknown") for d in details)
    if reasons & _PERMANENT_REASONS:
        return PermanentError(f"insert rejected: {message}")
    return TransientError(f"insert failed: {message}")
