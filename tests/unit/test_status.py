"""`session-sync status` without a server: the scan where Firestore lacks an index, Cloud
Monitoring's answer, the table, and the command's usage errors."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from cli.console import Console
from cli.main import main
from cli.status_cmd import FirestoreHealth, Health, MonitoringBacklog, gather, lines, show
from shared.settings import load_settings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Result:
    def __init__(self, value: int) -> None:
        self.value = value


class Document:
    def __init__(self, doc_id: str, data: dict[str, Any]) -> None:
        self.id, self._data = doc_id, data

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)


OPS = {"==": lambda a, b: a == b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b}


class Query:
    """A Firestore query over in-memory documents; count queries that filter on the sync
    status are refused for want of an index, as Firestore does."""

    def __init__(self, documents: list[Document], filters: tuple[Any, ...] = ()) -> None:
        self.documents, self.filters = documents, filters

    def where(self, *, filter: Any) -> Query:
        return Query(self.documents, (*self.filters, filter))

    def order_by(self, *_: Any, **__: Any) -> Query:
        return self

    def select(self, _fields: list[str]) -> Query:
        return self

    def matching(self) -> list[Document]:
        return [
            d
            for d in self.documents
            if all(
                f.field_path in d.to_dict() and OPS[f.op_string](d.to_dict()[f.field_path], f.value)
                for f in self.filters
            )
        ]

    def stream(self, timeout: float) -> list[Document]:
        return self.matching()

    def count(self, alias: str) -> Query:
        if any(f.field_path == "bigquerySyncStatus" for f in self.filters):
            raise gexc.FailedPrecondition("The query requires an index. You can create it here")
        return self

    def get(self, timeout: float) -> list[list[Result]]:
        return [[Result(len(self.matching()))]]


class Client:
    def __init__(self, sessions: list[dict[str, Any]]) -> None:
        self.sessions = [Document(f"s{i}", s) for i, s in enumerate(sessions)]

    def collection_group(self, name: str) -> Query:
        return Query(self.sessions)

    def collection(self, name: str) -> Query:
        return Query([])


def test_without_the_index_sessions_are_counted_by_scanning_the_window() -> None:
    inside = NOW - timedelta(hours=1)
    client = Client(
        [
            {"status": "completed", "startTime": inside, "bigquerySyncStatus": "synced"},
            {"status": "completed", "startTime": inside, "bigquerySyncStatus": "failed"},
            {"status": "completed", "startTime": inside},
            {"status": "completed", "startTime": NOW - timedelta(days=2)},
        ]
    )
    health = FirestoreHealth(client)

    counts = health.session_counts(NOW - timedelta(days=1), NOW)

    assert counts == {
        "total": 3,
        "synced": 1,
        "failed": 1,
        "invalid": 0,
        "abandoned": 0,
        "unsynced": 1,
    }
    assert health.counted_by.startswith("scan of the window")


class Monitoring:
    def __init__(self, series: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
        self.series = series
        self.urls: list[str] = []

    def get(self, url: str) -> dict[str, Any]:
        self.urls.append(url)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        text = query["filter"][0]
        metric = text.split("subscription/")[1].split('"')[0]
        subscription = text.rsplit('"', 2)[1]
        points = self.series.get((metric, subscription))
        return {"timeSeries": [{"points": points}]} if points else {}

    def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("status only reads")


def test_backlogs_are_the_latest_points_of_the_pubsub_metrics() -> None:
    monitoring = Monitoring(
        {
            ("num_undelivered_messages", "session-completed-push"): [
                {"value": {"int64Value": "12"}},
                {"value": {"int64Value": "40"}},
            ],
            ("oldest_unacked_message_age", "session-completed-push"): [
                {"value": {"int64Value": "95"}}
            ],
        }
    )
    reader = MonitoringBacklog(monitoring, "proj-1")

    push = reader.backlog("session-completed-push", NOW)
    hold = reader.backlog("session-completed-dead-letter-hold", NOW)

    assert (push.messages, push.oldest_unacked_seconds) == (12, 95.0)
    assert hold.messages is None and "no data point" in hold.note
    assert monitoring.urls[0].startswith(
        "https://monitoring.googleapis.com/v3/projects/proj-1/timeSeries?"
    )
    assert "interval.endTime=2026-12-01T12%3A00%3A00" in monitoring.urls[0]


def test_the_table_shows_the_backlogs_of_the_cloud() -> None:
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": "proj-1"})
    monitoring = MonitoringBacklog(
        Monitoring(
            {
                ("num_undelivered_messages", "session-completed-dead-letter-hold"): [
                    {"value": {"int64Value": "3"}}
                ]
            }
        ),
        "proj-1",
    )
    report = gather(
        settings, FirestoreHealth(Client([])), monitoring, since=NOW - timedelta(days=1), until=NOW
    )

    table = lines(report, now=NOW)

    assert table[0].startswith("session-sync status: cloud pipeline, project proj-1")
    assert "dead letters     session-completed-dead-letter-hold: 3 message(s)" in table
    assert any("push backlog" in line and "no data point" in line for line in table)


def test_json_is_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    report = Health("local", "p", NOW - timedelta(days=1), NOW, sessions={"total": 0})

    assert show(report, Console(), as_json=True) == 0
    document = json.loads(capsys.readouterr().out)

    assert document["window"] == {
        "since": "2026-11-30T12:00:00.000000Z",
        "until": "2026-12-01T12:00:00.000000Z",
    }


@pytest.mark.parametrize(
    "argv",
    [["status", "--since", "2026-12-02", "--until", "2026-12-01"]],
)
def test_an_inverted_window_is_a_usage_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert "--since" in capsys.readouterr().err


def test_a_bad_time_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["status", "--since", "yesterday-ish"])
    assert exit_info.value.code == 2
