"""Each path a session can take, run on the local stack and counted: what one session costs.

Paths: a live completion; a transient failure resolved by one retry; an episode
abandoned after the fast tier and redriven; an operator replay; a backfill; the
scheduled reconcile; the operator's reconcile; and an idle redrive round (a
fixed cost per round, not per session). Every path starts from an emptied
stack; what its setup does is not counted.
"""

from __future__ import annotations

import dataclasses
import io
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.counted_functions import CountedPipeline
from bench.counting_ports import (
    CountingFailureStore,
    CountingPublisher,
    CountingRowReader,
    CountingSessionStore,
)
from bench.ops import Ops, per_session
from cli.backfill_cmd import BackfillRequest, backfill
from cli.bootstrap import OperatorPorts, build_operator_ports
from cli.console import Console
from cli.cost import operations as op
from cli.local.net import HOST
from cli.local.stack import LocalStack
from cli.reconcile_cmd import ReconcileRequest, reconcile
from cli.replay_cmd import ReplayRequest, replay
from cli.sample_data import GeneratedSession, completed, generate_sessions, write_sessions
from shared.gcp.clients import firestore_client
from shared.gcp.firestore_failures import COLLECTION
from shared.healing import PUBLISH_BATCH
from shared.healing_policy import HealingPolicy
from shared.model import SessionKey

OPERATOR = "operator"
APP_WRITES_LIVE = 2  # the app creates the session (active), then completes it


@dataclass(frozen=True)
class PathCount:
    """What a path cost in all, by actor, for `sessions` sessions (0: a per-round figure)."""

    path: str
    sessions: int
    app_writes: int  # app writes per session in the counted run (each fires the trigger)
    by_actor: dict[str, dict[str, float]]
    description: str

    @property
    def totals(self) -> dict[str, float]:
        total: dict[str, float] = {}
        for counts in self.by_actor.values():
            for operation, amount in counts.items():
                total[operation] = total.get(operation, 0.0) + amount
        return total

    def per_session(self) -> dict[str, float]:
        return per_session(self.totals, max(self.sessions, 1))

    def invocations(self) -> dict[str, float]:
        """Invocations per session (or per round) of each function."""
        divisor = max(self.sessions, 1)
        return {
            actor: counts.get(op.INVOCATIONS, 0.0) / divisor
            for actor, counts in self.by_actor.items()
            if counts.get(op.INVOCATIONS)
        }


@dataclass
class Scenario:
    """A path's setup and counted run, over the counted pipeline."""

    stack: LocalStack
    pipeline: CountedPipeline
    tally: Ops
    sessions: int
    seed: int = 5
    generated: list[GeneratedSession] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.firestore = firestore_client(self.stack.settings)
        self.policy = HealingPolicy(time_scale=self.stack.settings.time_scale)

    # -- set-up helpers ---------------------------------------------------------------------

    def fresh(self, seed: int) -> list[GeneratedSession]:
        """Empty the stack; generate sessions started inside the scheduled reconcile's window.

        Emptying deletes documents, and each delete fires the trigger: wait until those
        deliveries are over, so they are not counted as the next path's.
        """
        self.stack.reset()
        self.pipeline.settle(quiet=3.0, timeout=900.0)
        self.pipeline.outage.down = False
        start = datetime.now(UTC) - self.policy.reconcile_window / 4
        self.generated = list(
            generate_sessions(self.sessions, seed=seed, start=start, spread=self.policy.scaled(1))
        )
        return self.generated

    @property
    def keys(self) -> list[SessionKey]:
        return [session.key for session in self.generated]

    def write_active(self) -> None:
        write_sessions(self.firestore, self.generated)

    def write_completed(self) -> None:
        write_sessions(self.firestore, self.generated, lambda s: completed(s.document))

    def statuses(self) -> list[dict[str, Any]]:
        references = [self.firestore.document(key.path) for key in self.keys]
        return [document.to_dict() or {} for document in self.firestore.get_all(references)]

    def wait_until(self, done: Callable[[list[dict[str, Any]]], bool], what: str) -> None:
        deadline = time.monotonic() + 180
        while not done(self.statuses()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.2)

    def wait_synced(self, event_prefix: str = "") -> None:
        self.wait_until(
            lambda docs: all(
                d.get("bigquerySyncStatus") == "synced"
                and str(d.get("bigquerySyncEventId", "")).startswith(event_prefix)
                for d in docs
            ),
            "every session to be synced",
        )
        self.wait_no_open_episode()

    def wait_no_open_episode(self) -> None:
        collection = self.firestore.collection(COLLECTION)
        deadline = time.monotonic() + 60
        while any(
            (doc.to_dict() or {}).get("status") in ("pending", "abandoned")
            for doc in collection.stream()
        ):
            if time.monotonic() > deadline:
                raise TimeoutError("episodes still open")
            time.sleep(0.2)

    def sync_live(self) -> None:
        """Set-up: the sessions complete and sync through the live path."""
        self.write_completed()
        self.wait_synced()
        self.pipeline.settle()

    def post_job(self, job: str) -> None:
        """Call a scheduled job of the retry worker, as Cloud Scheduler does."""
        port = self.stack.settings.local_ports["LOCAL_RETRY_WORKER_PORT"]
        call = urllib.request.Request(f"http://{HOST}:{port}/{job}", data=b"", method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(call, timeout=120) as response:
            response.read()

    def operator_ports(self) -> OperatorPorts:
        """The operator commands' real adapters in counters (tallied as `operator`)."""
        real = build_operator_ports(self.stack.settings, pseudonymize=True)
        rows = self.pipeline.healing.rows
        assert isinstance(rows, CountingRowReader)
        return dataclasses.replace(
            real,
            sessions=CountingSessionStore(real.sessions, self.tally, OPERATOR),
            failures=CountingFailureStore(real.failures, self.tally, OPERATOR),
            publisher=CountingPublisher(
                real.publisher, self.tally, OPERATOR, per_request=PUBLISH_BATCH
            ),
            rows=CountingRowReader(real.rows, self.tally, OPERATOR, rows.scan_size),
        )

    def counted(self, path: str, app_writes: int, description: str) -> PathCount:
        self.pipeline.settle()
        return PathCount(path, self.sessions, app_writes, self.tally.by_actor(), description)


def _quiet() -> Console:
    return Console(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO())


# -- the paths -------------------------------------------------------------------------------


def live(s: Scenario) -> PathCount:
    """The app creates each session, then completes it; the pipeline syncs it."""
    s.fresh(seed=11)
    s.tally.reset()
    s.write_active()
    s.write_completed()
    s.wait_synced()
    return s.counted("live", APP_WRITES_LIVE, "created active, completed, synced once")


def retry(s: Scenario) -> PathCount:
    """BigQuery refuses each session's first insert; the first Cloud Tasks retry syncs it."""
    s.fresh(seed=12)
    s.tally.reset()
    s.write_active()
    s.pipeline.outage.fail_next_insert_of({key.session_id for key in s.keys})
    s.write_completed()
    s.wait_synced()
    return s.counted("retry", APP_WRITES_LIVE, "first insert refused, resolved by one retry")


def redrive(s: Scenario) -> PathCount:
    """BigQuery is down through the fast tier (10 retries); once back, one redrive round."""
    s.fresh(seed=13)
    s.tally.reset()
    s.write_active()
    s.pipeline.outage.down = True
    s.write_completed()
    s.wait_until(
        lambda docs: all(d.get("bigquerySyncStatus") == "abandoned" for d in docs),
        "every session to be abandoned",
    )
    s.pipeline.settle()
    s.pipeline.outage.down = False
    time.sleep(s.policy.episode_spacing(0).total_seconds() + 0.5)  # the first redrive is due
    s.post_job("redrive")
    s.wait_synced()
    return s.counted(
        "redrive", APP_WRITES_LIVE, "abandoned after 10 failed retries, then one redrive round"
    )


def replay_path(s: Scenario) -> PathCount:
    """`session-sync replay --session ...` of synced sessions: a new row version each."""
    s.fresh(seed=14)
    s.sync_live()
    s.tally.reset()
    request = ReplayRequest(sessions=tuple(s.keys), yes=True)
    code = replay(request, s.operator_ports(), _quiet())
    if code != 0:
        raise RuntimeError(f"replay exited {code}")
    s.wait_synced(event_prefix="replay-")
    return s.counted("replay", 0, "operator replay of synced sessions (--session)")


def backfill_path(s: Scenario) -> PathCount:
    """Completed sessions written before the trigger existed; `session-sync backfill`."""
    s.fresh(seed=15)
    before = s.pipeline.traffic.count("trigger")
    s.pipeline.trigger_paused = True
    try:
        s.write_completed()
        s.pipeline.wait_received("trigger", before + s.sessions)
        s.pipeline.settle()
    finally:
        s.pipeline.trigger_paused = False
    s.tally.reset()
    code = backfill(BackfillRequest(yes=True), s.operator_ports(), _quiet())
    if code != 0:
        raise RuntimeError(f"backfill exited {code}")
    s.wait_synced(event_prefix="backfill-")
    return s.counted("backfill", 0, "session-sync backfill of never-synced sessions")


def scheduled_reconcile(s: Scenario) -> PathCount:
    """The daily reconcile job over synced sessions of its window: nothing to repair."""
    s.fresh(seed=16)
    s.sync_live()
    s.tally.reset()
    s.post_job("reconcile")
    return s.counted("reconcile", 0, "scheduled reconcile, per session in its 72 h window")


def operator_reconcile(s: Scenario) -> PathCount:
    """`session-sync reconcile` over every completed session: nothing to repair."""
    s.fresh(seed=17)
    s.sync_live()
    s.tally.reset()
    code = reconcile(ReconcileRequest(), s.operator_ports(), _quiet())
    if code != 0:
        raise RuntimeError(f"reconcile exited {code}")
    return s.counted("reconcile_command", 0, "session-sync reconcile, every completed session")


def idle_redrive_round(s: Scenario) -> PathCount:
    """One scheduled redrive round with nothing due (its cost per round, sessions = 0)."""
    s.stack.reset()
    s.tally.reset()
    s.post_job("redrive")
    count = s.counted("redrive_round_idle", 0, "a scheduled redrive round with nothing due")
    return dataclasses.replace(count, sessions=0)


PATHS: dict[str, Callable[[Scenario], PathCount]] = {
    "live": live,
    "retry": retry,
    "redrive": redrive,
    "replay": replay_path,
    "backfill": backfill_path,
    "reconcile": scheduled_reconcile,
    "reconcile_command": operator_reconcile,
    "redrive_round_idle": idle_redrive_round,
}


def run_paths(
    stack: LocalStack, pipeline: CountedPipeline, tally: Ops, sessions: int, names: Sequence[str]
) -> list[PathCount]:
    """Run the named paths one after the other on an emptied stack each."""
    scenario = Scenario(stack, pipeline, tally, sessions)
    return [PATHS[name](scenario) for name in names]
