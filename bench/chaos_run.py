"""The chaos run's timeline and its verdict (see `bench/chaos.py` for what and why)."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud.firestore_v1.base_query import FieldFilter

from bench.chaos import PORT_BASE, Plan
from cli.local.faults import FaultControl
from cli.local.stack import LocalStack
from cli.sample_data import GeneratedSession, completed, generate_sessions, write_sessions
from shared.fingerprint import document_fingerprint, row_fingerprint
from shared.gcp.clients import (
    bigquery_client,
    firestore_client,
    publisher_client,
    subscriber_client,
)
from shared.gcp.firestore_failures import COLLECTION
from shared.model import SessionKey, SessionSnapshot
from shared.pseudonym import Pseudonymizer
from shared.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
BATCH_EVERY_SECONDS = 0.5
LATE_SHARE = 0.2  # of the sessions complete while BigQuery is down for the simulated day
SETTLE_POLL_SECONDS = 2.0


@dataclass
class Run:
    """What the run did and saw, against its own clock."""

    plan: Plan
    settings: Settings
    stack: LocalStack
    started: float = field(default_factory=time.monotonic)
    invalid: set[SessionKey] = field(default_factory=set)
    keys: list[SessionKey] = field(default_factory=list)
    duplicates: int = 0
    outage_ended: float | None = None
    open_at_outage_end: int = 0
    drained_after: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def note(self, text: str) -> None:
        print(f"  {self.elapsed():6.1f} s  {text}", file=sys.stderr, flush=True)

    def at(self, seconds: float, action: Callable[[], None]) -> None:
        """Run `action` `seconds` after the start, in a thread of its own."""

        def wait_then_act() -> None:
            time.sleep(max(0.0, seconds - self.elapsed()))
            if not self.stop.is_set():
                action()

        threading.Thread(target=wait_then_act, daemon=True).start()


def run_chaos(plan: Plan, *, keep: bool = False) -> dict[str, Any]:
    """Start a fresh chaos stack, run the plan, wait until it settles, return the figures."""
    settings = load_settings()
    if settings.firestore_emulator_host != f"127.0.0.1:{PORT_BASE}":
        raise SystemExit(
            f"chaos: the emulators are not its own: {settings.firestore_emulator_host}"
        )
    stack = LocalStack(settings, root=ROOT, progress=lambda _: None)
    print(_header(plan), file=sys.stderr, flush=True)
    stack.down()
    stack.up()
    stack.reset()
    run = Run(plan, settings, stack)
    try:
        sessions = list(generate_sessions(plan.sessions, seed=plan.seed))
        run.keys = [session.key for session in sessions]
        run.invalid = {sessions[i].key for i in _invalid_indexes(plan)}
        _schedule_faults(run)
        duplicating = threading.Thread(target=_duplicate_deliveries, args=(run,), daemon=True)
        duplicating.start()
        _complete(run, sessions)
        settled = _wait_until_settled(run)
        run.stop.set()
        figures = _verdict(run, settled)
    finally:
        run.stop.set()
        FaultControl(settings).clear()
        if not keep:
            stack.down()
    _print_summary(run, figures)
    return figures


def stop_chaos_stack() -> None:
    """Stop whatever a chaos run left running (after an interrupted run, or `--keep`)."""
    LocalStack(load_settings(), root=ROOT).down()


def _header(plan: Plan) -> str:
    return (
        f"chaos: {plan.sessions} sessions ({plan.invalid_rate:.0%} invalid),"
        f" {plan.fail_rate:.0%} BigQuery errors, a {plan.outage_seconds:g} s outage, sync worker"
        f" killed twice and retry worker once, trigger down {plan.trigger_down_seconds:g} s,"
        f" {plan.duplicate_rate:.0%} duplicate deliveries, BigQuery down 24 simulated hours"
        f" ({plan.long_outage_seconds:.0f} s at time scale {plan.time_scale:g})"
    )


def _invalid_indexes(plan: Plan) -> list[int]:
    rng = random.Random(plan.seed)
    return rng.sample(range(plan.sessions), round(plan.sessions * plan.invalid_rate))


def _schedule_faults(run: Run) -> None:
    plan, stack, faults = run.plan, run.stack, FaultControl(run.settings)
    span = plan.completion_seconds
    long_start = span + 2.0
    long_end = long_start + plan.long_outage_seconds

    def crash(name: str, down_for: float) -> Callable[[], None]:
        def act() -> None:
            run.note(f"{name} killed (SIGKILL)")
            stack.kill_service(name)
            time.sleep(down_for)
            stack.up()
            run.note(f"{name} back")

        return act

    def trigger_down() -> None:
        run.note(f"trigger down for {plan.trigger_down_seconds:g} s")
        stack.stop_service("trigger")  # the whole server: a killed one's worker may linger
        time.sleep(plan.trigger_down_seconds)
        stack.up()
        run.note("trigger back")

    def outage() -> None:
        run.note(f"BigQuery fails every request for {plan.outage_seconds:g} s")
        faults.set(fail_rate=plan.fail_rate, fail_for_seconds=plan.outage_seconds)

    def long_outage() -> None:
        run.note("BigQuery down for the simulated day")
        faults.set(fail_rate=1.0)

    def back() -> None:
        faults.set(fail_rate=plan.fail_rate)
        run.outage_ended = run.elapsed()
        run.open_at_outage_end = _open_episodes(run)
        run.note(f"BigQuery back ({run.open_at_outage_end} open episodes to drain)")

    faults.set(fail_rate=plan.fail_rate)
    run.at(0.2 * span, crash("sync-worker", 1.0))
    run.at(0.25 * span, outage)
    run.at(0.4 * span, crash("retry-worker", 1.0))
    run.at(0.6 * span, crash("sync-worker", 1.0))
    run.at(0.8 * span, trigger_down)
    run.at(long_start, long_outage)
    run.at(long_end, back)


def _complete(run: Run, sessions: list[GeneratedSession]) -> None:
    """Complete 80 % of the sessions over the span, the rest while BigQuery is down."""
    plan = run.plan
    client = firestore_client(run.settings)
    late = int(len(sessions) * LATE_SHARE)
    early, rest = sessions[: len(sessions) - late], sessions[len(sessions) - late :]
    late_start = plan.completion_seconds + 4.0
    late_span = min(10.0, plan.long_outage_seconds / 3)
    for group, begin, span in (
        (early, 0.0, plan.completion_seconds),
        (rest, late_start, late_span),
    ):
        batches = max(1, int(span / BATCH_EVERY_SECONDS))
        size = -(-len(group) // batches)
        for number in range(batches):
            chunk = group[number * size : (number + 1) * size]
            time.sleep(max(0.0, begin + number * BATCH_EVERY_SECONDS - run.elapsed()))
            if chunk:
                write_sessions(client, chunk, lambda s: _completed_document(s, run))
    run.note(f"all {len(sessions)} sessions completed")


def _completed_document(session: GeneratedSession, run: Run) -> dict[str, Any]:
    """The session as completed now: started moments ago (inside the reconcile window)."""
    start = datetime.now(UTC) - timedelta(seconds=5)
    document = {**session.document, "startTime": start, "createdAt": start - timedelta(seconds=5)}
    finished = completed(document)
    if session.key in run.invalid:
        finished["repCount"] = "lots"
    return finished


def _duplicate_deliveries(run: Run) -> None:
    """Publish a share of the trigger's messages again, verbatim, as Pub/Sub may deliver twice."""
    settings = run.settings
    subscriber = subscriber_client(settings)
    publisher = publisher_client(settings)
    topic = publisher.topic_path(settings.project, settings.topic)
    name = subscriber.subscription_path(settings.project, "chaos-duplicates")
    try:
        subscriber.create_subscription(request={"name": name, "topic": topic})
    except gexc.AlreadyExists:
        pass
    rng = random.Random(run.plan.seed + 1)
    while not run.stop.is_set():
        try:
            response = subscriber.pull(
                request={"subscription": name, "max_messages": 200}, timeout=2
            )
        except gexc.DeadlineExceeded:
            continue
        received = response.received_messages
        if not received:
            continue
        subscriber.acknowledge(
            request={"subscription": name, "ack_ids": [m.ack_id for m in received]}
        )
        for item in received:
            message = item.message
            if (
                message.attributes.get("origin") == "trigger"
                and rng.random() < run.plan.duplicate_rate
            ):
                publisher.publish(topic, message.data, **dict(message.attributes))
                run.duplicates += 1


def _open_episodes(run: Run) -> int:
    collection = firestore_client(run.settings).collection(COLLECTION)
    query = collection.where(filter=FieldFilter("status", "in", ["pending", "abandoned"]))
    return sum(1 for _ in query.stream())


def _statuses(run: Run) -> dict[SessionKey, SessionSnapshot]:
    client = firestore_client(run.settings)
    snapshots: dict[SessionKey, SessionSnapshot] = {}
    for start in range(0, len(run.keys), 300):
        references = [client.document(key.path) for key in run.keys[start : start + 300]]
        for document in client.get_all(references):
            key = SessionKey.from_path(document.reference.path)
            if key is not None and document.exists:
                snapshots[key] = SessionSnapshot(
                    key, document.to_dict() or {}, document.update_time
                )
    return snapshots


def _settled(run: Run, snapshots: dict[SessionKey, SessionSnapshot]) -> bool:
    for key in run.keys:
        snapshot = snapshots.get(key)
        wanted = "invalid" if key in run.invalid else "synced"
        if snapshot is None or snapshot.sync_status != wanted:
            return False
    return True


def _wait_until_settled(run: Run) -> bool:
    """Poll, touching nothing, until every session settled and no episode is open."""
    plan = run.plan
    reconcile_every = max(86_400 * plan.time_scale, 10.0)
    deadline = plan.completion_seconds + 2 + plan.long_outage_seconds + 3 * reconcile_every + 60
    last_report = 0.0
    while run.elapsed() < deadline:
        open_now = _open_episodes(run)
        if run.outage_ended is not None and run.drained_after is None and open_now == 0:
            run.drained_after = run.elapsed() - run.outage_ended
            run.note(f"episodes drained {run.drained_after:.1f} s after BigQuery came back")
        if run.outage_ended is not None and open_now == 0 and _settled(run, _statuses(run)):
            run.note("every session settled")
            return True
        if run.elapsed() - last_report > 15:
            counts = Counter(s.sync_status for s in _statuses(run).values())
            run.note(f"waiting: {dict(counts)}, {open_now} open episodes")
            last_report = run.elapsed()
        time.sleep(SETTLE_POLL_SECONDS)
    run.note("gave up waiting")
    return False


def _verdict(run: Run, settled: bool) -> dict[str, Any]:
    """Check every session against BigQuery and the records; the run's figures."""
    settings = run.settings
    pseudonymizer = Pseudonymizer.from_settings(settings)
    snapshots = _statuses(run)
    view: dict[str, list[dict[str, Any]]] = {}
    for row in bigquery_client(settings).query(f"SELECT * FROM `{settings.latest_view_id}`"):
        view.setdefault(row["session_id"], []).append(dict(row))
    raw_rows = next(
        iter(bigquery_client(settings).query(f"SELECT COUNT(*) AS n FROM `{settings.table_id}`"))
    )["n"]
    records: dict[str, Counter[str]] = {}
    for document in firestore_client(settings).collection(COLLECTION).stream():
        data = document.to_dict() or {}
        records.setdefault(data.get("sessionKey", ""), Counter())[data.get("status", "")] += 1
    lost = duplicated = wrong = unrecorded = stuck = 0
    for key in run.keys:
        snapshot = snapshots.get(key)
        status = snapshot.sync_status if snapshot else None
        if status not in ("synced", "invalid"):
            stuck += 1
        if key in run.invalid:
            unrecorded += status != "invalid" or not records.get(str(key), Counter())["invalid"]
            continue
        rows = view.get(key.session_id, [])
        lost += not rows
        duplicated += len(rows) > 1
        if rows and snapshot is not None:
            row = rows[0]
            expected = document_fingerprint(snapshot, pseudonymizer)
            wrong += row["user_id_hash"] != pseudonymizer.user_id_hash(key.user_id) or (
                row_fingerprint(row) != expected
            )
    open_records = sum(c["pending"] + c["abandoned"] for c in records.values())
    reconcile = subprocess.run(
        [sys.executable, "-m", "cli.main", "reconcile", "--grace", "0", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    drain_rate = (
        run.open_at_outage_end / run.drained_after
        if run.drained_after and run.open_at_outage_end
        else None
    )
    figures = {
        "sessions": len(run.keys),
        "invalid": len(run.invalid),
        "settled": settled,
        "lost": lost,
        "duplicated": duplicated,
        "wrong_content": wrong,
        "invalid_unrecorded": unrecorded,
        "stuck": stuck + open_records,
        "needed_operator": 0,
        "reconcile_exit": reconcile.returncode,
        "duplicate_deliveries": run.duplicates,
        "view_rows": sum(len(rows) for rows in view.values()),
        "raw_rows": raw_rows,
        "seconds": round(run.elapsed(), 1),
        "open_at_outage_end": run.open_at_outage_end,
        "drain_seconds": round(run.drained_after, 1) if run.drained_after is not None else None,
        "drain_per_second": round(drain_rate, 1) if drain_rate is not None else None,
    }
    figures["passed"] = (
        settled
        and lost == duplicated == wrong == unrecorded == 0
        and figures["stuck"] == 0
        and reconcile.returncode == 0
    )
    if reconcile.returncode != 0:
        print(reconcile.stdout[-2000:], reconcile.stderr[-2000:], file=sys.stderr)
    return figures


def _print_summary(run: Run, figures: dict[str, Any]) -> None:
    valid = figures["sessions"] - figures["invalid"]
    drain = (
        f"drain: {figures['open_at_outage_end']} episodes in {figures['drain_seconds']} s"
        f" after the outage ({figures['drain_per_second']}/s)"
        if figures["drain_seconds"] is not None
        else "drain: did not finish"
    )
    print(
        f"synced {valid - figures['lost']} of {valid} valid sessions"
        f" ({figures['wrong_content']} with wrong content or pseudonym), invalid recorded"
        f" {figures['invalid'] - figures['invalid_unrecorded']} of {figures['invalid']};"
        f" {figures['view_rows']} rows in sessions_latest, {figures['raw_rows']} in sessions;"
        f" {figures['duplicate_deliveries']} duplicate deliveries;"
        f" reconcile exit {figures['reconcile_exit']}"
    )
    print(
        f"lost {figures['lost']}, duplicated {figures['duplicated']}, stuck {figures['stuck']},"
        f" needed operator {figures['needed_operator']}"
    )
    print(f"time {figures['seconds']} s; {drain}")
