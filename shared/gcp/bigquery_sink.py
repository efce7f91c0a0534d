"""`RowSink` over BigQuery streaming inserts (insertAll) with insert ids."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from shared.errors import PermanentError, PipelineError, TransientError
from shared.gcp.errors import briefly_retried, translated
from shared.logging import get_logger
from shared.schema import validate_row

# insertErrors reasons caused by the row itself; anything else may succeed on retry.
_PERMANENT_REASONS = frozenset({"invalid", "invalidQuery", "notFound"})
# insertAll's limits are 10 MB per HTTP request and 50,000 rows; keep a margin for the
# envelope the client adds around the rows.
MAX_REQUEST_BYTES = 9 * 1024 * 1024
MAX_REQUEST_ROWS = 50_000
_ROW_OVERHEAD_BYTES = 64  # `{"insertId": ..., "json": ...}` around each row
log = get_logger("bigquery_sink")


class BigQueryRowSink:
    """Streams validated rows into one table; `insertId` = the key of each row."""

    def __init__(self, client: Any, table_id: str, *, timeout: float = 10.0) -> None:
        self._client = client
        self._table_id = table_id
        self._timeout = timeout

    def insert(self, rows: Mapping[str, dict[str, Any]]) -> dict[str, PipelineError]:
        """Validate every row, then insert the valid ones in requests under insertAll's limits.

        Rows violating `schema.json` come back as `PermanentError` without any
        network call. BigQuery stores the rows it accepts even when it rejects
        others; the per-row `insertErrors` are classified. A request rejected as
        a whole (HTTP 400) is split in halves until the offending row stands
        alone; a request that fails (after at most 3 quick attempts) gives its
        rows a `TransientError`. Never raises.
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
        for request in _requests(valid):
            errors.update(_not_the_rows_fault(request, self._insert_bisecting(request)))
        return errors

    def _insert_bisecting(self, rows: dict[str, dict[str, Any]]) -> dict[str, PipelineError]:
        try:
            return self._insert_all(rows)
        except TransientError as error:
            return dict.fromkeys(rows, error)
        except PermanentError as error:
            if len(rows) == 1:
                log.warning("row_rejected", insert_id=next(iter(rows)), error=str(error))
                return dict.fromkeys(rows, _RejectedAlone(f"insert rejected: {error}"))
        ids = list(rows)
        half = len(ids) // 2
        errors = self._insert_bisecting({i: rows[i] for i in ids[:half]})
        errors.update(self._insert_bisecting({i: rows[i] for i in ids[half:]}))
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


class _RejectedAlone(PermanentError):
    """A row BigQuery rejected even in a request of its own: the row is at fault."""


def _not_the_rows_fault(
    request: dict[str, dict[str, Any]], errors: dict[str, PipelineError]
) -> dict[str, PipelineError]:
    """When every row of a request is rejected even alone, the table or the request is at
    fault (a schema or permission change), not the rows: retry them all instead."""
    if len(request) > 1 and all(isinstance(errors.get(i), _RejectedAlone) for i in request):
        reason = next(iter(errors.values()))
        log.error("request_rejected", rows=len(request), error=str(reason))
        return {i: TransientError(f"every row rejected: {reason}") for i in request}
    return errors


def _requests(rows: dict[str, dict[str, Any]]) -> Iterator[dict[str, dict[str, Any]]]:
    """Consecutive groups of rows, each under `MAX_REQUEST_BYTES` and `MAX_REQUEST_ROWS`."""
    request: dict[str, dict[str, Any]] = {}
    size = 0
    for insert_id, row in rows.items():
        row_size = len(json.dumps(row).encode("utf-8")) + len(insert_id) + _ROW_OVERHEAD_BYTES
        if request and (size + row_size > MAX_REQUEST_BYTES or len(request) >= MAX_REQUEST_ROWS):
            yield request
            request, size = {}, 0
        request[insert_id] = row
        size += row_size
    if request:
        yield request


def _row_error(item: Mapping[str, Any]) -> PipelineError:
    details = item.get("errors") or [{}]
    reasons = {detail.get("reason", "") for detail in details}
    message = "; ".join(str(d.get("message") or d.get("reason") or "unknown") for d in details)
    if reasons & _PERMANENT_REASONS:
        return PermanentError(f"insert rejected: {message}")
    return TransientError(f"insert failed: {message}")
