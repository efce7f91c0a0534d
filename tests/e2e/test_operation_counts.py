"""The operation counts of the cost benchmark, checked against a run whose costs the design fixes.

The functions run in the test's process over counting adapters (bench.counted_functions),
on the stack's ports: the Firestore emulator fires the trigger for every write, Pub/Sub
pushes every message, so each count is what the code did, not what it was expected to do.
"""

from __future__ import annotations

import pytest

from bench.cost_paths import run_paths
from bench.counted_functions import RETRY_WORKER, SYNC_WORKER, TRIGGER, counted_pipeline
from bench.ops import Ops
from cli.cost import operations as op
from cli.local.stack import LocalStack

pytestmark = pytest.mark.e2e

SESSIONS = 10


def test_ten_live_completions_cost_what_the_design_says(clean_stack: LocalStack) -> None:
    tally = Ops()
    with counted_pipeline(clean_stack, tally) as pipeline:
        [count] = run_paths(clean_stack, pipeline, tally, SESSIONS, ["live"])
    trigger = count.by_actor[TRIGGER]
    worker = count.by_actor[SYNC_WORKER]
    totals = count.totals

    # The trigger listens to every write of a session document (document.v1.written):
    # the app's two (created active, then completed) and the worker's one status write
    # (`synced`). It publishes only on the transition to completed, so two of three
    # invocations publish nothing.
    assert trigger[op.INVOCATIONS] == 3 * SESSIONS
    assert trigger[op.IGNORED] == 2 * SESSIONS
    # One SessionCompleted per completion, one request each (the trigger's client does not
    # batch), each billed as the 1000-byte minimum.
    assert trigger[op.PUBLISHED] == SESSIONS
    assert trigger[op.PUBLISH_REQUESTS] == SESSIONS
    assert trigger[op.PUBLISH_BILLABLE] == 1000 * SESSIONS
    # Pub/Sub pushes each message once to the sync worker: one invocation per message.
    assert worker[op.DELIVERED] == SESSIONS
    assert worker[op.INVOCATIONS] == SESSIONS
    # The sync use case: one document read per session (batched), one row streamed with
    # the event id as insert id, one conditional status write. Nothing else touches
    # Firestore: no failure record, no episode query (the session was never failed).
    assert totals[op.FIRESTORE_READS] == SESSIONS
    assert totals[op.FIRESTORE_WRITES] == SESSIONS
    assert totals[op.ROWS_STREAMED] == SESSIONS
    assert totals.get(op.ROWS_REFUSED, 0) == 0
    # A row is a few hundred bytes, so BigQuery bills each as its 1 KB minimum.
    assert 0 < totals[op.ROW_BYTES] < 1024 * SESSIONS
    assert totals[op.STREAMING_BILLABLE] == 1024 * SESSIONS
    # No failure: no retry task, no retry worker, no query.
    assert totals.get(op.TASK_OPERATIONS, 0) == 0
    assert RETRY_WORKER not in count.by_actor
    assert totals.get(op.QUERIES, 0) == 0
