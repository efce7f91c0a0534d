"""`BigQueryRowSink` against bqemulator, plus a scripted insertAll endpoint for BigQuery's replies.

bqemulator never dedupes `insertId` and only reports per-row `insertErrors`
when asked to skip invalid rows; real BigQuery's other per-row reasons
(`stopped`, `backendError`, ...) and slow or failing responses come from a
small local HTTP server speaking the insertAll wire format, reached through
the same `bigquery_client(settings, endpoint=...)` the fault proxy uses.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from google.cloud import bigquery

from cli.local.provision import table_schema
from cli.local.stack import LocalStack
from shared.errors import PermanentError, TransientError
from shared.gcp import clients
from shared.gcp.bigquery_sink import MAX_REQUEST_BYTES, BigQueryRowSink
from shared.pseudonym import Pseudonymizer
from shared.rows import session_row
from shared.schema import MAX_STRING_CHARS, columns
from shared.settings import Settings
from tests.unit.documents import full_document

pytestmark = pytest.mark.integration

SYNCED_AT = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
PSEUDONYMIZER = Pseudonymizer("integration-test-salt-0123456789abcdef")

Reply = tuple[int, dict[str, Any] | None]  # HTTP status and JSON body; None body: never answer


class ScriptedBigQuery:
    """An HTTP server that records insertAll requests and answers each with `reply(body, size)`.

    `size` is the request body's length in bytes, as sent.
    """

    def __init__(self, reply: Callable[[dict[str, Any], int], Reply]) -> None:
        self.requests: list[dict[str, Any]] = []
        self._stop = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                body = json.loads(raw)
                status, answer = reply(body, len(raw))
                owner.requests.append(
                    {"path": self.path, "body": body, "bytes": len(raw), "status": status}
                )
                if answer is None:  # hold the connection until the test ends
                    owner._stop.wait(30)
                    return
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ScriptedBigQuery:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


def _row(session_id: str, **changes: Any) -> dict[str, Any]:
    document = full_document()
    document.pop("sessionId")
    row = session_row(
        "user-1", session_id, document, pseudonymizer=PSEUDONYMIZER, synced_at=SYNCED_AT
    )
    row.update(changes)
    return row


def _as_stored(row: dict[str, Any]) -> dict[str, Any]:
    """A sent row as a query returns it: TIMESTAMP columns as aware datetimes."""
    timestamps = {column.name for column in columns() if column.type == "TIMESTAMP"}
    return {
        name: datetime.fromisoformat(value) if name in timestamps and value else value
        for name, value in row.items()
    }


@pytest.fixture
def bq(local_stack: LocalStack, local_settings: Settings) -> Iterator[bigquery.Client]:
    with clients.bigquery_client(local_settings) as client:
        yield client


def _stored(bq: bigquery.Client, table_id: str, session_ids: list[str]) -> list[dict[str, Any]]:
    quoted = ", ".join(f"'{session_id}'" for session_id in session_ids)
    query = f"SELECT * FROM `{table_id}` WHERE session_id IN ({quoted}) ORDER BY session_id"
    return [dict(row) for row in bq.query(query, timeout=10).result(timeout=10)]


def test_insert_streams_valid_rows_that_a_query_then_returns(
    bq: bigquery.Client, local_settings: Settings
) -> None:
    run = uuid.uuid4().hex[:8]
    rows = {
        f"ev-{run}-1": _row(f"{run}-1"),
        f"ev-{run}-2": _row(f"{run}-2", overall_score=0.0, rep_count=0, warnings=[], platform=None),
    }
    sink = BigQueryRowSink(bq, local_settings.table_id, timeout=5)

    assert sink.insert(rows) == {}

    stored = _stored(bq, local_settings.table_id, [f"{run}-1", f"{run}-2"])
    assert stored == [_as_stored(row) for row in rows.values()]
    assert stored[0]["user_id_hash"] == PSEUDONYMIZER.user_id_hash("user-1")
    assert (stored[1]["overall_score"], stored[1]["rep_count"], stored[1]["platform"]) == (
        0.0,
        0,
        None,
    )


def test_rows_violating_the_schema_fail_permanently_without_a_request(
    local_settings: Settings,
) -> None:
    rows = {
        "ev-type": _row("s1", rep_count="30"),
        "ev-required": _row("s2", start_time=None),
        "ev-unknown": {**_row("s3"), "coach": "x"},
        "ev-missing": {k: v for k, v in _row("s4").items() if k != "warnings"},
    }
    with ScriptedBigQuery(lambda body, size: (200, {})) as server:
        sink = BigQueryRowSink(
            clients.bigquery_client(local_settings, endpoint=server.endpoint), "p.d.t"
        )

        errors = sink.insert(rows)

    assert server.requests == []
    assert {key: type(error) for key, error in errors.items()} == dict.fromkeys(
        rows, PermanentError
    )
    assert {
        key: error.field for key, error in errors.items() if isinstance(error, PermanentError)
    } == {
        "ev-type": "rep_count",
        "ev-required": "start_time",
        "ev-unknown": "coach",
        "ev-missing": "warnings",
    }


def test_a_row_bigquery_rejects_fails_alone_and_the_others_land(
    bq: bigquery.Client, local_settings: Settings
) -> None:
    """A table that drifted from schema.json: `exercise_type` is INTEGER there."""
    drifted = f"{local_settings.project}.{local_settings.bq_dataset}.drifted_{uuid.uuid4().hex[:8]}"
    schema = [
        bigquery.SchemaField("exercise_type", "INTEGER") if field.name == "exercise_type" else field
        for field in table_schema()
    ]
    bq.create_table(bigquery.Table(drifted, schema=schema), timeout=10)
    try:
        sink = BigQueryRowSink(bq, drifted, timeout=5)
        started = time.monotonic()

        errors = sink.insert(
            {"ev-text": _row("s-text"), "ev-null": _row("s-null", exercise_type=None)}
        )

        assert time.monotonic() - started < 5
        assert list(errors) == ["ev-text"]
        assert isinstance(errors["ev-text"], PermanentError)
        assert str(errors["ev-text"]).startswith("insert rejected: Cannot convert")
        assert [row["session_id"] for row in _stored(bq, drifted, ["s-text", "s-null"])] == [
            "s-null"
        ]
    finally:
        bq.delete_table(drifted, timeout=10)


def test_per_row_insert_errors_are_classified_by_reason(local_settings: Settings) -> None:
    """BigQuery's reply when some rows fail: `invalid` rows are permanent, the others retryable."""
    reasons = {1: "invalid", 2: "stopped", 3: "backendError", 4: "notFound"}
    reply = {
        "kind": "bigquery#tableDataInsertAllResponse",
        "insertErrors": [
            {
                "index": index,
                "errors": [{"reason": reason, "location": "x", "message": f"row {reason}"}],
            }
            for index, reason in reasons.items()
        ],
    }
    rows = {f"ev-{n}": _row(f"s{n}") for n in range(5)}
    with ScriptedBigQuery(lambda body, size: (200, reply)) as server:
        client = clients.bigquery_client(local_settings, endpoint=server.endpoint)

        errors = BigQueryRowSink(client, "proj.data.sessions", timeout=5).insert(rows)

    assert {key: (type(e), str(e)) for key, e in errors.items()} == {
        "ev-1": (PermanentError, "insert rejected: row invalid"),
        "ev-2": (TransientError, "insert failed: row stopped"),
        "ev-3": (TransientError, "insert failed: row backendError"),
        "ev-4": (PermanentError, "insert rejected: row notFound"),
    }
    [request] = server.requests
    assert request["path"].startswith(
        "/bigquery/v2/projects/proj/datasets/data/tables/sessions/insertAll"
    )
    assert request["body"]["skipInvalidRows"] is True
    assert [(item["insertId"], item["json"]) for item in request["body"]["rows"]] == list(
        rows.items()
    )


def _ids(request: dict[str, Any]) -> list[str]:
    return [item["insertId"] for item in request["body"]["rows"]]


def _bad_request(message: str) -> Reply:
    return 400, {"error": {"code": 400, "message": message, "errors": [{"reason": "invalid"}]}}


def test_a_request_rejected_as_a_whole_is_bisected_down_to_the_poison_row(
    local_settings: Settings,
) -> None:
    """BigQuery answers 400 for the whole request when one row is unacceptable."""
    rows = {f"ev-{n}": _row(f"s{n}") for n in range(8)}

    def reply(body: dict[str, Any], size: int) -> Reply:
        if any(item["insertId"] == "ev-5" for item in body["rows"]):
            return _bad_request("poison row")
        return 200, {}

    with ScriptedBigQuery(reply) as server:
        client = clients.bigquery_client(local_settings, endpoint=server.endpoint)

        errors = BigQueryRowSink(client, "p.d.t", timeout=5).insert(rows)

    assert [(_ids(request), request["status"]) for request in server.requests] == [
        ([f"ev-{n}" for n in range(8)], 400),
        (["ev-0", "ev-1", "ev-2", "ev-3"], 200),
        (["ev-4", "ev-5", "ev-6", "ev-7"], 400),
        (["ev-4", "ev-5"], 400),
        (["ev-4"], 200),
        (["ev-5"], 400),  # rejected alone: the row is at fault, not retried
        (["ev-6", "ev-7"], 200),
    ]
    assert list(errors) == ["ev-5"]
    assert isinstance(errors["ev-5"], PermanentError)
    assert str(errors["ev-5"]).startswith("insert rejected: insert rows: BadRequest: 400")
    assert "poison row" in str(errors["ev-5"])
    accepted = [i for request in server.requests if request["status"] == 200 for i in _ids(request)]
    assert sorted(accepted) == sorted(set(rows) - {"ev-5"})  # every other row exactly once


def test_a_lone_row_rejected_as_a_whole_is_permanent(local_settings: Settings) -> None:
    with ScriptedBigQuery(lambda body, size: _bad_request("no such field")) as server:
        client = clients.bigquery_client(local_settings, endpoint=server.endpoint)

        errors = BigQueryRowSink(client, "p.d.t", timeout=5).insert({"ev-1": _row("s1")})

    assert len(server.requests) == 1
    assert list(errors) == ["ev-1"] and isinstance(errors["ev-1"], PermanentError)


def test_rows_all_rejected_even_alone_are_transient_the_table_is_at_fault(
    local_settings: Settings,
) -> None:
    """A schema or permission change makes BigQuery refuse any row: retry, never `invalid`."""
    rows = {f"ev-{n}": _row(f"s{n}") for n in range(4)}
    with ScriptedBigQuery(lambda body, size: _bad_request("table schema changed")) as server:
        client = clients.bigquery_client(local_settings, endpoint=server.endpoint)

        errors = BigQueryRowSink(client, "p.d.t", timeout=5).insert(rows)

    assert [_ids(request) for request in server.requests] == [
        ["ev-0", "ev-1", "ev-2", "ev-3"],
        ["ev-0", "ev-1"],
        ["ev-0"],
        ["ev-1"],
        ["ev-2", "ev-3"],
        ["ev-2"],
        ["ev-3"],
    ]
    assert list(errors) == list(rows)
    for error in errors.values():
        assert type(error) is TransientError
        assert str(error).startswith("every row rejected: insert rejected: insert rows: BadRequest")


# insertAll refuses an HTTP request over 10 MB; a row here is about 1 MiB (128 warnings of
# the largest string a column takes).
INSERT_ALL_LIMIT_BYTES = 10_000_000


def _large_row(session_id: str) -> dict[str, Any]:
    return _row(session_id, warnings=[session_id[-1] * MAX_STRING_CHARS] * 128)


def test_large_batches_go_in_requests_under_the_request_size_limit(
    local_settings: Settings,
) -> None:
    rows = {f"ev-{n:02d}": _large_row(f"s{n:02d}") for n in range(20)}

    def reply(body: dict[str, Any], size: int) -> Reply:
        return (400, {"error": {"code": 400}}) if size > INSERT_ALL_LIMIT_BYTES else (200, {})

    with ScriptedBigQuery(reply) as server:
        client = clients.bigquery_client(local_settings, endpoint=server.endpoint)

        errors = BigQueryRowSink(client, "p.d.t", timeout=30).insert(rows)

    assert errors == {}
    sizes = [request["bytes"] for request in server.requests]
    assert [len(_ids(request)) for request in server.requests] == [8, 8, 4], sizes
    assert all(size <= MAX_REQUEST_BYTES for size in sizes), sizes
    assert [i for request in server.requests for i in _ids(request)] == list(rows)
    row_bytes = sizes[-1] / 4
    assert sizes[0] + row_bytes > MAX_REQUEST_BYTES  # full: one more row would not fit
    assert {request["body"]["skipInvalidRows"] for request in server.requests} == {True}


def test_a_request_refused_for_its_size_is_halved_until_it_fits(
    local_settings: Settings,
) -> None:
    """Should BigQuery's limit be lower than the sink assumes, halving still lands every row."""
    limit = 3 * 1024 * 1024
    rows = {f"ev-{n:02d}": _large_row(f"s{n:02d}") for n in range(10)}

    def reply(body: dict[str, Any], size: int) -> Reply:
        return _bad_request("Request payload size exceeds the limit") if size > limit else (200, {})

    with ScriptedBigQuery(reply) as server:
        client = clients.bigquery_client(local_settings, endpoint=server.endpoint)

        errors = BigQueryRowSink(client, "p.d.t", timeout=30).insert(rows)

    assert errors == {}
    assert [(len(_ids(request)), request["status"]) for request in server.requests] == [
        (8, 400),
        (4, 400),
        (2, 200),
        (2, 200),
        (4, 400),
        (2, 200),
        (2, 200),
        (2, 200),  # the second request of the batch: 2 rows from the start
    ]
    for request in server.requests:
        assert (request["bytes"] > limit) == (request["status"] == 400)
    accepted = [i for request in server.requests if request["status"] == 200 for i in _ids(request)]
    assert accepted == list(rows)


def test_a_failing_request_is_retried_briefly_then_each_of_its_rows_is_transient(
    local_settings: Settings,
) -> None:
    """The batch spans two requests: the failing one costs only its own rows."""
    rows = {f"ev-{n:02d}": _large_row(f"s{n:02d}") for n in range(10)}

    def reply(body: dict[str, Any], size: int) -> Reply:
        if body["rows"][0]["insertId"] == "ev-00":
            return 503, {"error": {"code": 503, "message": "backend"}}
        return 200, {}

    with ScriptedBigQuery(reply) as server:
        client = clients.bigquery_client(local_settings, endpoint=server.endpoint)

        errors = BigQueryRowSink(client, "p.d.t", timeout=30).insert(rows)

    assert [(len(_ids(request)), request["status"]) for request in server.requests] == [
        (8, 503),
        (8, 503),
        (8, 503),
        (2, 200),
    ]
    assert list(errors) == list(rows)[:8]
    for error in errors.values():
        assert type(error) is TransientError
        assert str(error).startswith("insert rows: ServiceUnavailable: 503")


def test_a_silent_endpoint_times_out_at_the_short_deadline(local_settings: Settings) -> None:
    with ScriptedBigQuery(lambda body, size: (200, None)) as server:
        client = clients.bigquery_client(local_settings, endpoint=server.endpoint)
        started = time.monotonic()

        errors = BigQueryRowSink(client, "p.d.t", timeout=0.3).insert({"ev-1": _row("s1")})

        elapsed = time.monotonic() - started
    assert len(server.requests) == 3
    assert elapsed < 4, f"took {elapsed:.1f} s"
    assert list(errors) == ["ev-1"] and type(errors["ev-1"]) is TransientError
    assert re.match(r"^insert rows: (ReadTimeout|Timeout|ConnectionError)", str(errors["ev-1"]))


def test_a_missing_table_is_a_transient_error(
    bq: bigquery.Client, local_settings: Settings
) -> None:
    """The table may be created by a deployment still running: retried later, never `invalid`."""
    sink = BigQueryRowSink(bq, f"{local_settings.table_id}_missing", timeout=5)

    errors = sink.insert({"ev-1": _row("s1"), "ev-2": _row("s2")})

    assert list(errors) == ["ev-1", "ev-2"]
    for error in errors.values():
        assert type(error) is TransientError
        assert str(error).startswith("insert rows: NotFound: 404")
