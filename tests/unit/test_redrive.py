"""The slow tier over the fakes: redrive rounds and the scheduled reconcile."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from shared.contract import SessionCompleted
from shared.episodes import failure_record
from shared.model import (
    CANARY_SESSION_PREFIX,
    CANARY_USER_ID,
    FailureStatus,
    RecordChange,
    SessionKey,
    episode_id,
)
from shared.recent_reconcile import reconcile_recent
from shared.redrive import redrive
from tests.unit.documents import full_document
from tests.unit.fakes import World


def abandoned_world(count: int) -> World:
    """`count` completed sessions whose episodes the fast tier abandoned, due for a redrive."""
    world = World()
    for index in range(count):
        key = world.sessions.put("u1", f"s{index}", {**full_document(), "sessionId": f"s{index}"})
        world.sessions.documents[key]["bigquerySyncStatus"] = "abandoned"
        record = world.failures.create(
            failure_record(
                SessionCompleted("u1", f"s{index}", f"evt-{index}"), "outage", "sessions"
            )
        )
        change = RecordChange(status=FailureStatus.ABANDONED, next_redrive_at=world.clock.now())
        world.failures.update(record.record_id, change, expected=record.version)
    world.clock.advance(timedelta(seconds=1))
    return world


def status(world: World, index: int) -> Any:
    return world.sessions.documents[SessionKey("u1", f"s{index}")]["bigquerySyncStatus"]


def test_a_round_probes_one_episode_in_process_and_publishes_the_rest() -> None:
    world = abandoned_world(3)
    report = redrive(world.healing)
    assert (report.due, report.probe, report.redriven) == (3, "passed", 2)
    assert [m.origin for m in world.publisher.messages] == ["redrive", "redrive"]
    assert {m.event_id for m in world.publisher.messages} == {"evt-1", "evt-2"}
    world.deliver_published()
    assert [status(world, i) for i in range(3)] == ["synced"] * 3
    assert {r.status for r in world.failures.records.values()} == {FailureStatus.RESOLVED}


def test_a_failed_probe_publishes_nothing_and_spaces_the_next_rounds_further_apart() -> None:
    world = abandoned_world(3)
    world.sink.outage.down = True
    first = redrive(world.healing)
    assert first.probe.startswith("failed") and world.publisher.messages == []
    waits = [first.waiting_until]
    for _ in range(3):
        assert redrive(world.healing).waiting_until == waits[-1]  # not yet: nothing is done
        assert waits[-1] is not None
        world.clock.moment = waits[-1]
        waits.append(redrive(world.healing).waiting_until)
    now = world.clock.now()
    gaps = [b - a for a, b in itertools.pairwise(waits) if a and b]
    assert gaps == sorted(gaps) and gaps[0] < gaps[-1], gaps
    world.sink.outage.down = False
    world.clock.moment = now + timedelta(hours=2)
    healed = redrive(world.healing, force=True)
    assert healed.probe == "passed"
    world.deliver_published()
    assert [status(world, i) for i in range(3)] == ["synced"] * 3
    assert world.failures.state.failed_rounds == 0


def test_a_redriven_episode_waits_longer_each_time() -> None:
    world = abandoned_world(2)
    redrive(world.healing)  # the probe syncs one; the other is published
    world.sink.outage.down = True
    world.deliver_published()  # its sync fails again
    [left] = [r for r in world.failures.records.values() if r.status is FailureStatus.ABANDONED]
    assert left.redrive_count == 1 and left.next_redrive_at is not None
    spacing = left.next_redrive_at - world.clock.now()
    assert spacing > timedelta(minutes=9)  # doubled from the first 5 minutes


def test_an_episode_older_than_the_retention_becomes_final_with_an_alert(
    caplog_json: list[dict[str, Any]],
) -> None:
    world = abandoned_world(1)
    world.clock.advance(timedelta(days=8))
    report = redrive(world.healing)
    assert (report.finalized, report.redriven) == (1, 0)
    [record] = world.failures.records.values()
    assert record.final_at is not None and record.next_redrive_at is None
    assert any(line.get("message") == "sync_final" for line in caplog_json)
    assert redrive(world.healing).due == 0  # final: never due again


def test_a_pending_episode_untouched_past_the_budget_is_abandoned_then_redriven(
    caplog_json: list[dict[str, Any]],
) -> None:
    world = World()
    world.sessions.put("u1", "s1", full_document())
    world.sessions.documents[SessionKey("u1", "s1")]["bigquerySyncStatus"] = "failed"
    world.failures.create(failure_record(SessionCompleted("u1", "s1", "evt-1"), "boom", "sessions"))
    world.clock.advance(timedelta(minutes=30))
    assert redrive(world.healing).due == 0  # still within the fast tier's budget
    world.clock.advance(timedelta(minutes=31))
    report = redrive(world.healing)
    assert (report.due, report.abandoned, report.probe) == (1, 1, "passed")
    assert any(line.get("message") == "sync_abandoned" for line in caplog_json)
    assert world.failures.records[episode_id("evt-1")].status is FailureStatus.RESOLVED


def test_the_scheduled_reconcile_replays_what_never_reached_the_pipeline() -> None:
    world = World()
    start = world.clock.now() - timedelta(hours=1)
    lost = world.sessions.put("u1", "lost", {**full_document(), "sessionId": "lost"})
    invalid = world.sessions.put("u1", "bad", {**full_document(), "sessionId": "bad"})
    owned = world.sessions.put("u1", "owned", {**full_document(), "sessionId": "owned"})
    for key in (lost, invalid, owned):
        world.sessions.documents[key]["startTime"] = start
    world.sessions.documents[invalid]["repCount"] = "lots"
    world.sessions.documents[owned]["bigquerySyncStatus"] = "abandoned"  # the redrive's
    world.clock.advance(timedelta(minutes=10))  # past the in-flight grace

    report = reconcile_recent(world.healing)

    assert (report.replayed, report.left_to_episodes) == (2, 1)
    assert report.counts == {"missing": 2, "unrecorded": 1}
    world.deliver_published()
    assert world.sessions.documents[lost]["bigquerySyncStatus"] == "synced"
    assert world.sessions.documents[invalid]["bigquerySyncStatus"] == "invalid"


def test_a_leftover_canary_session_is_no_finding_of_the_reconcile() -> None:
    """`doctor --canary` interrupted before its clean-up leaves a probe the view hides."""
    world = World()
    key = world.sessions.put(
        CANARY_USER_ID, f"{CANARY_SESSION_PREFIX}x", {**full_document(), "sessionId": "x"}
    )
    world.sessions.documents[key]["startTime"] = world.clock.now() - timedelta(hours=1)
    world.clock.advance(timedelta(minutes=10))
    report = reconcile_recent(world.healing)
    assert (report.replayed, sum(report.counts.values())) == (0, 0)
