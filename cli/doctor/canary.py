"""`doctor --canary`: one synthetic session through the whole pipeline, then gone.

The canary is written under a reserved user id with a reserved session-id prefix
(Firestore forbids ids like `__x__`, so both are plain names). The view
`sessions_latest` leaves that prefix out (shared/sql/sessions_latest.sql), so the
canary never reaches analysts' numbers; its raw row stays in `sessions`, which
only the pipeline reads. The session document and any failure record of it are
deleted at the end, whatever happened.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cli.doctor.context import Context
from cli.doctor.report import Check, fail, ok
from cli.sample_data import completed, generate_sessions
from shared.gcp.firestore_failures import COLLECTION as FAILURES
from shared.model import CANARY_SESSION_PREFIX, CANARY_USER_ID, SessionKey

QUERY_TIMEOUT = 30


@dataclass(frozen=True)
class CanaryResult:
    """What one canary run measured."""

    key: SessionKey
    status: str | None = None
    latency_seconds: float | None = None  # the row's synced_at minus the write's commit time
    observed_seconds: float | None = None  # from the write until doctor saw the row
    in_view: bool | None = None
    failure_reasons: tuple[str, ...] = ()
    deleted_records: int = 0
    cleaned_up: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "user_id": self.key.user_id,
            "session_id": self.key.session_id,
            "status": self.status,
            "latency_seconds": self.latency_seconds,
            "observed_seconds": self.observed_seconds,
            "in_view": self.in_view,
            "failure_reasons": list(self.failure_reasons),
            "deleted_failure_records": self.deleted_records,
            "cleaned_up": self.cleaned_up,
        }


def canary_key(now: datetime | None = None) -> SessionKey:
    """A fresh canary session: reserved user, reserved prefix, the time and some randomness."""
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    return SessionKey(CANARY_USER_ID, f"{CANARY_SESSION_PREFIX}{moment}-{secrets.token_hex(3)}")


def canary_document(key: SessionKey, now: datetime) -> dict[str, Any]:
    """A valid completed session, as the app writes one, started a minute ago."""
    generated = next(
        generate_sessions(1, seed=7, start=now - timedelta(minutes=1), spread=timedelta(seconds=1))
    )
    document = completed(generated.document)
    return {**document, "sessionId": key.session_id}


def run(
    ctx: Context,
    *,
    timeout: float,
    poll: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[list[Check], CanaryResult]:
    """Write the canary, wait for its row, check the view hides it, clean up; the checks."""
    firestore = ctx.clients.firestore
    now = datetime.now(UTC)
    key = canary_key(now)
    document = canary_document(key, now)
    reference = firestore.document(key.path)
    written = reference.create(document, timeout=QUERY_TIMEOUT)
    begin = clock()
    result = CanaryResult(key)
    try:
        result = _follow(ctx, key, document, written.update_time, begin, timeout, poll, clock)
    finally:
        result = _clean_up(ctx, key, result)
    return _checks(ctx, result, timeout), result


def _follow(
    ctx: Context,
    key: SessionKey,
    document: dict[str, Any],
    written_at: datetime,
    begin: float,
    timeout: float,
    poll: float,
    clock: Callable[[], float],
) -> CanaryResult:
    reference = ctx.clients.firestore.document(key.path)
    status = None
    while clock() - begin < timeout:
        status = (reference.get(timeout=QUERY_TIMEOUT).to_dict() or {}).get("bigquerySyncStatus")
        if status in ("synced", "invalid"):
            break
        time.sleep(poll)
    if status != "synced":
        return CanaryResult(key, status=status, failure_reasons=_reasons(ctx, key))
    # The status is written after the insert, so the row is there: look at least once.
    while (row := _row(ctx, ctx.expected.settings.table_id, key, document["startTime"])) is None:
        if clock() - begin >= timeout:
            break
        time.sleep(poll)
    observed = clock() - begin
    if row is None:
        return CanaryResult(key, status=status, observed_seconds=round(observed, 3))
    latency = (row["synced_at"] - written_at).total_seconds()
    in_view = _row(ctx, ctx.expected.settings.latest_view_id, key, document["startTime"])
    return CanaryResult(
        key,
        status=status,
        latency_seconds=round(latency, 3),
        observed_seconds=round(observed, 3),
        in_view=in_view is not None,
    )


def _row(ctx: Context, table: str, key: SessionKey, start: datetime) -> dict[str, Any] | None:
    from google.cloud import bigquery

    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("session", "STRING", key.session_id),
            bigquery.ScalarQueryParameter("start", "TIMESTAMP", start),
        ]
    )
    sql = (
        f"SELECT session_id, synced_at FROM `{table}`"
        " WHERE start_time = @start AND session_id = @session ORDER BY synced_at LIMIT 1"
    )
    rows = list(
        ctx.clients.bigquery.query(sql, job_config=config, timeout=QUERY_TIMEOUT).result(
            timeout=QUERY_TIMEOUT
        )
    )
    return dict(rows[0].items()) if rows else None


def _records(ctx: Context, key: SessionKey) -> list[Any]:
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = ctx.clients.firestore.collection(FAILURES).where(
        filter=FieldFilter("sessionKey", "==", str(key))
    )
    return list(query.stream(timeout=QUERY_TIMEOUT))


def _reasons(ctx: Context, key: SessionKey) -> tuple[str, ...]:
    try:
        return tuple(
            str((record.to_dict() or {}).get("failureReason", ""))[:200]
            for record in _records(ctx, key)
        )
    except Exception:
        return ()


def _clean_up(ctx: Context, key: SessionKey, result: CanaryResult) -> CanaryResult:
    """Delete the canary's document and failure records; note whether that worked."""
    try:
        records = _records(ctx, key)
        for record in records:
            record.reference.delete(timeout=QUERY_TIMEOUT)
        ctx.clients.firestore.document(key.path).delete(timeout=QUERY_TIMEOUT)
    except Exception:
        return _replace(result, cleaned_up=False)
    return _replace(result, cleaned_up=True, deleted_records=len(records))


def _replace(result: CanaryResult, **changes: Any) -> CanaryResult:
    import dataclasses

    return dataclasses.replace(result, **changes)


def _checks(ctx: Context, result: CanaryResult, timeout: float) -> list[Check]:
    path = result.key.path
    fix = (
        "see `session-sync failures list` and the workers' logs"
        + (" (`.local-stack/*.log`)" if ctx.local else "")
        + "; the checks above show what is misconfigured"
    )
    checks: list[Check] = []
    if result.status != "synced":
        reasons = f"; failure: {result.failure_reasons[0]}" if result.failure_reasons else ""
        checks.append(
            fail(
                "canary",
                f"{path} not synced after {timeout:g} s"
                f" (status {result.status or 'none'}{reasons})",
                fix,
            )
        )
    elif result.latency_seconds is None:
        checks.append(fail("canary", f"{path} is synced but its row is not in the table", fix))
    else:
        checks.append(
            ok(
                "canary",
                f"{path} synced; its row reached {ctx.expected.settings.bq_table}"
                f" {result.latency_seconds:.2f} s after the write (doctor saw it after"
                f" {result.observed_seconds:.2f} s)",
            )
        )
        if result.in_view:
            checks.append(
                fail(
                    "canary hidden from the view",
                    f"{ctx.expected.settings.latest_view_id} shows the canary: analysts would"
                    " count it",
                    ctx.recreate_fix("the view from shared/sql/sessions_latest.sql"),
                )
            )
        else:
            checks.append(
                ok(
                    "canary hidden from the view",
                    f"{ctx.expected.settings.bq_latest_view} leaves it out",
                )
            )
    if result.cleaned_up:
        checks.append(
            ok(
                "canary cleaned up",
                f"session document and {result.deleted_records} failure record(s) deleted (the"
                " raw row stays in the table, outside the view)",
            )
        )
    else:
        checks.append(
            fail(
                "canary cleaned up",
                f"could not delete {path} or its failure records",
                f"delete them by hand: the document {path} and the {FAILURES} records whose"
                f" sessionKey is {result.key}",
            )
        )
    return checks
