"""`session-sync status`: one screen of data health, as a table or JSON.

Sessions that started in a window, by `bigquerySyncStatus`; failure records by
status (created in the window), the open ones of any age and the oldest of them;
the backlogs of the dead-letter hold and of the push subscription, from Cloud
Monitoring where it exists (not on the local stack, which has none).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from cli import exits
from cli.arguments import add_window_arguments
from cli.console import Console
from cli.doctor.rest import Rest
from cli.failures_cmd import record_json
from cli.preflight import require_local_stack
from cli.timeparse import check_window
from shared.gcp.firestore_failures import COLLECTION as FAILURES
from shared.gcp.firestore_failures import FirestoreFailureStore
from shared.gcp.pubsub_dead_letters import HOLD_SUFFIX
from shared.model import COMPLETED, OPEN_FAILURE_STATUSES, FailureRecord, FailureStatus, SyncStatus
from shared.settings import Settings, load_settings
from shared.timestamps import utc_rfc3339

DEFAULT_WINDOW = timedelta(hours=24)
TIMEOUT = 30.0
MONITORING_API = "https://monitoring.googleapis.com/v3"
# Pub/Sub writes these metrics about once a minute; look back far enough to find a point.
METRIC_LOOKBACK = timedelta(minutes=10)
REASON_CHARS = 80
NO_MONITORING = "not available on the local stack: the emulators have no Cloud Monitoring"


def register(commands: Any) -> None:
    """Add `status` to the command parser."""
    parser = commands.add_parser(
        "status",
        help="one screen of data health: sync statuses, failure records, backlogs",
        description=(
            "Count the completed sessions that started in a window (default: the last 24"
            " hours) by bigquerySyncStatus; the failure records created in the window by"
            " status, the open ones of any age and the oldest of them; the dead-letter"
            " backlog and the push subscription's backlog (from Cloud Monitoring; not on the"
            " local stack). Read-only. Exit 0, 1 when a dependency fails, 2 on usage errors."
        ),
    )
    add_window_arguments(parser, what="sessions whose startTime is, and failure records created")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=exits.guarded("status", run))


@dataclass(frozen=True)
class Backlog:
    """A subscription's backlog, or why it is not known."""

    subscription: str
    messages: int | None = None
    oldest_unacked_seconds: float | None = None
    note: str = ""


@dataclass
class Health:
    """What `status` shows."""

    mode: str
    project: str
    since: datetime
    until: datetime
    sessions: dict[str, int] = field(default_factory=dict)
    sessions_counted_by: str = "count aggregation"
    failure_records: dict[str, int] = field(default_factory=dict)
    open_records: dict[str, int] = field(default_factory=dict)
    oldest_open: FailureRecord | None = None
    dead_letter_backlog: Backlog | None = None
    push_backlog: Backlog | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "project": self.project,
            "window": {"since": utc_rfc3339(self.since), "until": utc_rfc3339(self.until)},
            "sessions": self.sessions,
            "sessions_counted_by": self.sessions_counted_by,
            "failure_records": self.failure_records,
            "open_records": self.open_records,
            "oldest_open": record_json(self.oldest_open) if self.oldest_open else None,
            "dead_letter_backlog": asdict(self.dead_letter_backlog)
            if self.dead_letter_backlog
            else None,
            "push_backlog": asdict(self.push_backlog) if self.push_backlog else None,
        }


SESSION_KEYS = (*(status.value for status in SyncStatus), "unsynced")


class FirestoreHealth:
    """Counts over the sessions and the failure records, with Firestore's count queries.

    Counting sessions by sync status within a time window needs a composite index
    (status, bigquerySyncStatus, startTime) on the `sessions` collection group; where
    Firestore refuses for want of it, the window is scanned instead (only the
    status field is read), and `counted_by` says so.
    """

    def __init__(self, client: Any, *, timeout: float = TIMEOUT) -> None:
        self._client = client
        self._timeout = timeout
        self.counted_by = "count aggregation"

    def session_counts(self, since: datetime, until: datetime) -> dict[str, int]:
        window = (
            self._client.collection_group("sessions")
            .where(filter=FieldFilter("status", "==", COMPLETED))
            .where(filter=FieldFilter("startTime", ">=", since))
            .where(filter=FieldFilter("startTime", "<", until))
        )
        total = self._count(window)
        try:
            counts = {
                status.value: self._count(
                    window.where(filter=FieldFilter("bigquerySyncStatus", "==", status.value))
                )
                for status in SyncStatus
            }
        except gexc.FailedPrecondition:  # the index is missing: count the window here
            counts = dict.fromkeys((status.value for status in SyncStatus), 0)
            total = 0
            for document in window.select(["bigquerySyncStatus"]).stream(timeout=self._timeout):
                total += 1
                value = (document.to_dict() or {}).get("bigquerySyncStatus")
                if value in counts:
                    counts[value] += 1
            self.counted_by = "scan of the window (no index for count queries by sync status)"
        counts["unsynced"] = total - sum(counts.values())
        return {"total": total, **counts}

    def failure_counts(self, since: datetime, until: datetime) -> dict[str, int]:
        """Records created in the window, by status (the index of `failures list`)."""
        return {
            status.value: self._count(
                self._by_status(status)
                .where(filter=FieldFilter("createdAt", ">=", since))
                .where(filter=FieldFilter("createdAt", "<", until))
            )
            for status in FailureStatus
        }

    def open_counts(self) -> dict[str, int]:
        return {
            status.value: self._count(self._by_status(status)) for status in OPEN_FAILURE_STATUSES
        }

    def oldest_open(self, open_counts: dict[str, int]) -> FailureRecord | None:
        """The open record created first: the last of each status, newest first."""
        oldest: list[FailureRecord] = []
        for status in OPEN_FAILURE_STATUSES:
            count = open_counts.get(status.value, 0)
            if count:
                store = FirestoreFailureStore(self._client, timeout=self._timeout)
                query = self._by_status(status).offset(count - 1).limit(1)
                for document in query.stream(timeout=self._timeout):
                    record = store.get(document.id)
                    if record is not None and record.created_at is not None:
                        oldest.append(record)
        return (
            min(oldest, key=lambda record: record.created_at or until_never()) if oldest else None
        )

    def _by_status(self, status: FailureStatus) -> Any:
        return (
            self._client.collection(FAILURES)
            .where(filter=FieldFilter("status", "==", status.value))
            .order_by("createdAt", direction=firestore.Query.DESCENDING)
        )

    def _count(self, query: Any) -> int:
        [[result]] = query.count(alias="n").get(timeout=self._timeout)
        return int(result.value)


class MonitoringBacklog:
    """A subscription's backlog from Cloud Monitoring's Pub/Sub metrics (latest point)."""

    def __init__(self, rest: Rest, project: str) -> None:
        self._rest = rest
        self._project = project

    def backlog(self, subscription: str, now: datetime) -> Backlog:
        messages = self._latest("num_undelivered_messages", subscription, now)
        oldest = self._latest("oldest_unacked_message_age", subscription, now)
        note = "" if messages is not None else "no data point in the last 10 minutes"
        return Backlog(
            subscription,
            int(messages) if messages is not None else None,
            float(oldest) if oldest is not None else None,
            note,
        )

    def _latest(self, metric: str, subscription: str, now: datetime) -> float | None:
        from urllib.parse import urlencode

        query = urlencode(
            {
                "filter": f'metric.type = "pubsub.googleapis.com/subscription/{metric}"'
                f' AND resource.labels.subscription_id = "{subscription}"',
                "interval.startTime": utc_rfc3339(now - METRIC_LOOKBACK),
                "interval.endTime": utc_rfc3339(now),
            }
        )
        body = self._rest.get(f"{MONITORING_API}/projects/{self._project}/timeSeries?{query}")
        for series in body.get("timeSeries", []):
            for point in series.get("points", []):  # newest first
                value = point.get("value", {})
                number = value.get("int64Value", value.get("doubleValue"))
                if number is not None:
                    return float(number)
        return None


def run(args: argparse.Namespace) -> int:
    """Entry point: settings, the real clients, one screen."""
    check_window(args.since, args.until)
    settings = load_settings()
    settings.require_project()
    require_local_stack(settings, ("firestore",))
    from shared.gcp.clients import firestore_client

    health = FirestoreHealth(firestore_client(settings))
    monitoring = None
    if not settings.is_local:
        from cli.doctor.rest import GoogleRest

        monitoring = MonitoringBacklog(GoogleRest.from_default_credentials(), settings.project)
    now = datetime.now(UTC)
    report = gather(
        settings,
        health,
        monitoring,
        since=args.since or now - DEFAULT_WINDOW,
        until=args.until or now,
    )
    return show(report, Console(), as_json=args.json)


def gather(
    settings: Settings,
    health: FirestoreHealth,
    monitoring: MonitoringBacklog | None,
    *,
    since: datetime,
    until: datetime,
) -> Health:
    """Read everything `status` shows; a failing read raises (the guard explains it)."""
    report = Health(settings.mode, settings.project, since, until)
    report.sessions = health.session_counts(since, until)
    report.sessions_counted_by = health.counted_by
    report.failure_records = health.failure_counts(since, until)
    report.open_records = health.open_counts()
    report.oldest_open = health.oldest_open(report.open_records)
    hold = settings.dead_letter_topic + HOLD_SUFFIX
    if monitoring is None:
        report.dead_letter_backlog = Backlog(hold, note=NO_MONITORING)
        report.push_backlog = Backlog(settings.push_subscription, note=NO_MONITORING)
    else:
        now = datetime.now(UTC)
        report.dead_letter_backlog = monitoring.backlog(hold, now)
        report.push_backlog = monitoring.backlog(settings.push_subscription, now)
    return report


def show(report: Health, console: Console, *, as_json: bool) -> int:
    if as_json:
        console.emit(json.dumps(report.to_json(), indent=2))
        return exits.OK
    for line in lines(report):
        console.emit(line)
    return exits.OK


def lines(report: Health, now: datetime | None = None) -> list[str]:
    """The table: one row per subject."""
    s, f, o = report.sessions, report.failure_records, report.open_records
    window = f"{utc_rfc3339(report.since)[:19]}Z .. {utc_rfc3339(report.until)[:19]}Z"
    rows = [
        (
            "sessions",
            f"{s.get('total', 0)} completed: {s.get('synced', 0)} synced, {s.get('failed', 0)}"
            f" failed, {s.get('abandoned', 0)} abandoned, {s.get('invalid', 0)} invalid,"
            f" {s.get('unsynced', 0)} not yet synced"
            + ("" if report.sessions_counted_by == "count aggregation" else " (scanned)"),
        ),
        (
            "failure records",
            ", ".join(f"{f.get(status.value, 0)} {status.value}" for status in FailureStatus)
            + " (created in the window)",
        ),
        ("open episodes", _open(o, report.oldest_open, now or datetime.now(UTC))),
        ("dead letters", _backlog(report.dead_letter_backlog)),
        ("push backlog", _backlog(report.push_backlog)),
    ]
    width = max(len(name) for name, _ in rows)
    header = f"session-sync status: {report.mode} pipeline, project {report.project}, {window}"
    return [header, *(f"{name.ljust(width)}  {value}" for name, value in rows)]


def until_never() -> datetime:
    return datetime.max.replace(tzinfo=UTC)


def _open(counts: dict[str, int], oldest: FailureRecord | None, now: datetime) -> str:
    total = sum(counts.values())
    text = (
        f"{total} open of any age ({counts.get('pending', 0)} pending,"
        f" {counts.get('abandoned', 0)} abandoned)"
    )
    if oldest is not None and oldest.created_at is not None:
        age = now - oldest.created_at
        reason = " ".join(oldest.failure_reason.split())
        reason = reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 3] + "..."
        text += (
            f"; oldest: {oldest.status.value} since {utc_rfc3339(oldest.created_at)[:19]}Z"
            f" ({_age(age)} ago), {oldest.key}" + (f", {reason}" if reason else "")
        )
    return text


def _age(age: timedelta) -> str:
    seconds = max(int(age.total_seconds()), 0)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def _backlog(backlog: Backlog | None) -> str:
    if backlog is None:
        return "-"
    if backlog.messages is None:
        return f"{backlog.subscription}: {backlog.note}"
    oldest = (
        f", oldest unacknowledged {_age(timedelta(seconds=backlog.oldest_unacked_seconds))}"
        if backlog.oldest_unacked_seconds
        else ""
    )
    return f"{backlog.subscription}: {backlog.messages} message(s){oldest}"
