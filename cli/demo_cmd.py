"""`session-sync demo`: complete generated sessions on the local stack and watch them land."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cli.local.faults import FaultControl
from cli.local.stack import LocalStack
from cli.progress import Progress
from cli.sample_data import GeneratedSession, completed, generate_sessions, write_sessions
from shared.errors import ConfigError
from shared.gcp.clients import bigquery_client, firestore_client
from shared.gcp.firestore_failures import COLLECTION
from shared.model import SessionKey
from shared.settings import Settings, load_settings

FINAL = ("synced", "invalid", "abandoned")


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="complete generated sessions on the local stack and report how they synced",
        description=(
            "Empty the local stack, write N generated sessions, mark them completed in a "
            "burst, wait until every one is synced (or invalid/abandoned) and print a "
            "summary with latencies and sample BigQuery rows. Local mode only."
        ),
    )
    parser.add_argument("--sessions", type=int, default=200, help="how many (default 200)")
    parser.add_argument("--seed", type=int, default=15, help="generator seed (default 15)")
    parser.add_argument(
        "--fail-rate",
        type=float,
        default=0.0,
        help="fraction of BigQuery requests the fault proxy fails during the demo, to watch"
        " retries (0..1; default: keep whatever `session-sync local faults` set)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds to wait for the sessions (300)"
    )
    parser.set_defaults(handler=run)


@dataclass
class DemoRun:
    settings: Settings
    sessions: list[GeneratedSession]
    completed_at: dict[SessionKey, datetime]


def run(args: argparse.Namespace) -> int:
    settings = load_settings(default_mode="local")
    if not settings.is_local:
        raise ConfigError("PIPELINE_MODE", "the demo runs on the local stack only (local)")
    if args.sessions < 1 or not 0 <= args.fail_rate <= 1:
        print("session-sync demo: --sessions >= 1 and --fail-rate within 0..1", file=sys.stderr)
        return 2
    stack = LocalStack(settings)
    if not stack.status().healthy:
        print("session-sync demo: the local stack is not running: `make local-up`", file=sys.stderr)
        return 1
    control = FaultControl(settings)
    before = control.state()
    stack.reset()  # empties the stack, and clears the faults: the operator's come back below
    if args.fail_rate:
        control.set(fail_rate=args.fail_rate)
    elif _injecting(before):
        _restore(control, before)
        print(f"keeping the faults set with `session-sync local faults`: {_describe(before)}")
    demo = _complete_sessions(settings, args.sessions, args.seed)
    statuses = _wait(demo, args.timeout)
    faults = control.state()
    if args.fail_rate:
        _restore(control, before)
    print(_summary(demo, statuses, faults if _injecting(faults) or args.fail_rate else None))
    unsynced = len(statuses) - Counter(statuses.values())["synced"]
    if unsynced:
        print(_recovery(Counter(statuses.values()), unsynced, faulty=_injecting(control.state())))
    print("\nStop the stack with `make local-down` (or `session-sync local down`).")
    return 0 if unsynced == 0 else 1


def _injecting(faults: dict[str, Any]) -> bool:
    return bool(faults.get("fail_rate") or faults.get("latency_ms") or faults.get("failing_now"))


def _describe(faults: dict[str, Any]) -> str:
    return f"fail rate {faults['fail_rate']:g}, latency {faults['latency_ms']:g} ms"


def _restore(control: FaultControl, faults: dict[str, Any]) -> None:
    """Put back faults read earlier (an ongoing timed outage keeps its end time)."""
    if not _injecting(faults):
        control.clear()
        return
    remaining = faults["fail_until"] - time.time()
    control.set(
        fail_rate=faults["fail_rate"],
        latency_ms=faults["latency_ms"],
        status=faults["status"],
        fail_for_seconds=remaining if remaining > 0 else None,
    )


def _recovery(counts: Counter[str], unsynced: int, *, faulty: bool) -> str:
    """What became of the sessions that did not sync, and how they recover."""
    lines = [f"\n{unsynced} session(s) not synced ({_tally(counts)}):"]
    if counts["abandoned"]:
        now = (
            "the fault proxy is still failing requests: clear it with"
            " `session-sync local faults --clear`"
            if faulty
            else "the demo's faults are cleared now"
        )
        lines.append(
            "  abandoned: BigQuery kept failing through every retry. The scheduled redrive"
            f" sends them again by itself once BigQuery answers ({now}); watch"
            " `session-sync failures list --status abandoned` empty out, or redrive at once"
            " with `session-sync redrive --force`."
        )
    if counts["pending"] or counts["failed"]:
        lines.append(
            "  still retrying when the demo gave up waiting: see"
            " `session-sync failures list`, and run the demo with a longer --timeout."
        )
    if counts["invalid"]:
        lines.append("  invalid: `session-sync failures list --status invalid` says why.")
    return "\n".join(lines)


def _complete_sessions(settings: Settings, count: int, seed: int) -> DemoRun:
    client = firestore_client(settings)
    sessions = list(generate_sessions(count, seed=seed))
    print(f"writing {count} active sessions of {len({s.user_id for s in sessions})} users")
    write_sessions(client, sessions)
    print(f"completing all {count} sessions in a burst")
    completed_at = write_sessions(client, sessions, lambda s: completed(s.document))
    return DemoRun(settings, sessions, completed_at)


def _wait(demo: DemoRun, timeout: float) -> dict[SessionKey, str]:
    client = firestore_client(demo.settings)
    keys = [s.key for s in demo.sessions]
    progress = Progress("syncing", total=len(keys))
    deadline = time.monotonic() + timeout
    statuses: dict[SessionKey, str] = {}
    printed = 0.0
    while True:
        references = [client.document(key.path) for key in keys]
        for snapshot in client.get_all(references):
            key = SessionKey.from_path(snapshot.reference.path)
            assert key is not None  # the demo reads only the session paths it wrote
            statuses[key] = (snapshot.to_dict() or {}).get("bigquerySyncStatus") or "pending"
        done = sum(status in FINAL for status in statuses.values())
        counts = Counter(statuses.values())
        note = _tally(counts)
        progress.advance(counts["synced"] - progress.done, note=note)
        if not sys.stderr.isatty() and time.monotonic() - printed > 2:
            print(f"  {done}/{len(keys)} done ({note})", file=sys.stderr)
            printed = time.monotonic()
        if done == len(keys) or time.monotonic() > deadline:
            progress.close()
            return statuses
        time.sleep(0.25)


def _summary(demo: DemoRun, statuses: dict[SessionKey, str], faults: dict[str, Any] | None) -> str:
    settings = demo.settings
    bigquery = bigquery_client(settings)
    synced_at = {
        row["session_id"]: row["synced_at"]
        for row in bigquery.query(
            f"SELECT session_id, MIN(synced_at) AS synced_at FROM `{settings.table_id}`"
            " GROUP BY session_id"
        ).result()
    }
    latencies = sorted(
        (synced_at[key.session_id] - at).total_seconds()
        for key, at in demo.completed_at.items()
        if key.session_id in synced_at
    )
    latest = list(bigquery.query(f"SELECT COUNT(*) AS n FROM `{settings.latest_view_id}`").result())
    records = Counter(
        (doc.to_dict() or {}).get("status")
        for doc in firestore_client(settings).collection(COLLECTION).stream()
    )
    counts = Counter(statuses.values())
    lines = [
        "",
        "Summary",
        f"  completed sessions          {len(demo.sessions)}",
        f"  synced                      {counts['synced']}",
        f"  failed, then retried        {sum(records.values()) - records['invalid']}"
        f" (records: {records['resolved']} resolved, {records['pending']} pending,"
        f" {records['abandoned']} abandoned)",
        f"  invalid                     {counts['invalid']}",
        f"  not finished                {len(demo.sessions) - sum(counts[s] for s in FINAL)}",
        f"  completion -> row latency   {_latency(latencies)}",
        f"  rows in sessions_latest     {latest[0]['n']}",
    ]
    if faults is not None:
        lines.append(
            f"  injected BigQuery faults    {faults['failed']} of"
            f" {faults['failed'] + faults['forwarded']} requests failed; the adapter retried"
            " each up to 3 times, sessions still failing went to Cloud Tasks (records above)"
        )
    lines.append("")
    lines.append("Sample rows from BigQuery (user ids are pseudonymized):")
    sample = list(
        bigquery.query(
            "SELECT user_id_hash, session_id, exercise_type, rep_count, overall_score, start_time"
            f" FROM `{settings.latest_view_id}` ORDER BY session_id LIMIT 3"
        ).result()
    )
    if not sample:
        lines.append("  (none)")
    for row in sample:
        lines.append(
            f"  {row['user_id_hash'][:16]}…  {row['session_id']}  {row['exercise_type']:<14}"
            f" reps={row['rep_count']:<3} score={row['overall_score']}"
            f"  {row['start_time']:%Y-%m-%d}"
        )
    return "\n".join(lines)


def _tally(counts: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))


def _latency(latencies: list[float]) -> str:
    if not latencies:
        return "none: no session synced"
    return f"p50 {_percentile(latencies, 50):.3f} s, p95 {_percentile(latencies, 95):.3f} s"


def _percentile(values: list[float], percent: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]
