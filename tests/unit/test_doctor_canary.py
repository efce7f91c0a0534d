"""The canary's outcomes over fake Firestore and BigQuery clients: synced with its latency,
never synced (with the failure's reason), shown by the view, not cleaned up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli.doctor import canary
from cli.doctor.context import Context
from cli.doctor.report import State
from shared.gcp.firestore_failures import COLLECTION as FAILURES
from tests.unit import doctor_world as w

WRITTEN_AT = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)


@dataclass
class Pipeline:
    """What happens to a canary after its write, scripted."""

    outcome: str = "synced"  # synced | stuck | no-row
    view_leaks: bool = False
    delete_fails: bool = False
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def written(self, path: str, data: dict[str, Any]) -> None:
        user, session = path.split("/")[1::2]
        self.documents[path] = dict(data)
        if self.outcome == "stuck":
            self.records["e1"] = {
                "sessionKey": f"{user}/{session}",
                "failureReason": "insert failed: 503 backendError",
            }
            return
        self.documents[path]["bigquerySyncStatus"] = "synced"
        if self.outcome == "synced":
            self.rows.append(
                {"session_id": session, "synced_at": WRITTEN_AT + timedelta(seconds=1.5)}
            )


class Snapshot:
    def __init__(self, pipeline: Pipeline, path: str, data: dict[str, Any] | None) -> None:
        self.reference = Reference(pipeline, path)
        self._data = data
        self.exists = data is not None

    def to_dict(self) -> dict[str, Any] | None:
        return self._data


class Reference:
    def __init__(self, pipeline: Pipeline, path: str) -> None:
        self.pipeline, self.path = pipeline, path

    def create(self, data: dict[str, Any], timeout: float) -> Any:
        self.pipeline.written(self.path, data)
        return type("WriteResult", (), {"update_time": WRITTEN_AT})()

    def get(self, timeout: float) -> Snapshot:
        return Snapshot(self.pipeline, self.path, self.pipeline.documents.get(self.path))

    def delete(self, timeout: float) -> None:
        if self.pipeline.delete_fails:
            raise OSError("network down")
        self.pipeline.deleted.append(self.path)
        self.pipeline.documents.pop(self.path, None)
        self.pipeline.records.pop(self.path.rsplit("/", 1)[-1], None)


class Query:
    def __init__(self, pipeline: Pipeline, value: str) -> None:
        self.pipeline, self.value = pipeline, value

    def stream(self, timeout: float) -> list[Snapshot]:
        return [
            Snapshot(self.pipeline, f"{FAILURES}/{rid}", record)
            for rid, record in self.pipeline.records.items()
            if record["sessionKey"] == self.value
        ]


class Firestore:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def document(self, path: str) -> Reference:
        return Reference(self.pipeline, path)

    def collection(self, name: str) -> Any:
        assert name == FAILURES
        pipeline = self.pipeline

        class Collection:
            def where(self, *, filter: Any) -> Query:
                return Query(pipeline, filter.value)

        return Collection()


class Row(dict[str, Any]):
    pass


class BigQuery:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.queries: list[str] = []

    def query(self, sql: str, job_config: Any, timeout: float) -> Any:
        self.queries.append(sql)
        session = next(p.value for p in job_config.query_parameters if p.name == "session")
        in_view = "sessions_latest" in sql
        rows = [
            Row(row)
            for row in self.pipeline.rows
            if row["session_id"] == session and (not in_view or self.pipeline.view_leaks)
        ]
        return type("Job", (), {"result": lambda self, timeout: rows})()


def run(tmp_path: Path, pipeline: Pipeline, timeout: float = 1.0) -> tuple[dict[str, Any], Any]:
    clients = w.clients_of(w.healthy_world())
    clients.firestore = Firestore(pipeline)
    clients.bigquery = BigQuery(pipeline)
    ctx = Context(w.cloud_expected(tmp_path), clients)
    checks, result = canary.run(ctx, timeout=timeout, poll=0.01)
    return {check.name: check for check in checks}, result


def test_a_synced_canary_reports_its_latency_and_is_deleted(tmp_path: Path) -> None:
    pipeline = Pipeline()

    checks, result = run(tmp_path, pipeline)

    assert [c.state for c in checks.values()] == [State.OK] * 3
    assert result.latency_seconds == 1.5
    assert "1.50 s after the write" in checks["canary"].detail
    assert result.in_view is False
    assert result.key.user_id == canary.CANARY_USER_ID
    assert result.key.session_id.startswith(canary.CANARY_SESSION_PREFIX)
    assert pipeline.documents == {}
    assert result.key.path in pipeline.deleted
    document = result.to_json()
    assert document["latency_seconds"] == 1.5
    assert document["cleaned_up"] is True


def test_a_canary_never_synced_fails_with_the_reason_and_is_still_deleted(
    tmp_path: Path,
) -> None:
    pipeline = Pipeline(outcome="stuck")

    checks, _ = run(tmp_path, pipeline, timeout=0.2)

    assert checks["canary"].state is State.FAIL
    assert "not synced after 0.2 s" in checks["canary"].detail
    assert "insert failed: 503 backendError" in checks["canary"].detail
    assert "failures list" in checks["canary"].fix
    assert checks["canary cleaned up"].state is State.OK
    assert "1 failure record(s) deleted" in checks["canary cleaned up"].detail
    assert pipeline.documents == {} and pipeline.records == {}


def test_a_synced_canary_without_its_row_fails(tmp_path: Path) -> None:
    checks, _ = run(tmp_path, Pipeline(outcome="no-row"), timeout=0.1)

    assert checks["canary"].state is State.FAIL
    assert "its row is not in the table" in checks["canary"].detail


def test_a_view_that_shows_the_canary_fails(tmp_path: Path) -> None:
    checks, result = run(tmp_path, Pipeline(view_leaks=True))

    assert result.in_view is True
    assert checks["canary hidden from the view"].state is State.FAIL
    assert "analysts would count it" in checks["canary hidden from the view"].detail


@pytest.mark.parametrize("outcome", ["synced", "stuck"])
def test_a_canary_that_cannot_be_deleted_says_what_to_delete(tmp_path: Path, outcome: str) -> None:
    checks, result = run(tmp_path, Pipeline(outcome=outcome, delete_fails=True), timeout=0.1)

    assert result.cleaned_up is False
    assert checks["canary cleaned up"].state is State.FAIL
    assert result.key.path in checks["canary cleaned up"].fix
