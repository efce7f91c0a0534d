"""The operator commands end to end over port fakes: selection, confirmation, output, exit codes."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cli import exits
from cli.backfill_cmd import BackfillRequest, backfill
from cli.bootstrap import OperatorPorts
from cli.console import Console
from cli.failures_cmd import list_failures
from cli.main import main
from cli.reconcile_cmd import ReconcileRequest, reconcile
from cli.replay_cmd import ReplayRequest, replay
from shared.contract import SessionCompleted
from shared.errors import PermanentError, TransientError
from shared.model import FailureRecord, FailureStatus, SessionKey, SessionSnapshot
from shared.ports import DeadLetter, RawDuplicates
from shared.pseudonym import Pseudonymizer
from shared.rows import session_row
from tests.unit.documents import SALT, full_document
from tests.unit.fakes import FakePublisher
from tests.unit.test_operator_selectors import StatusFailures
from tests.unit.test_operator_terminal import Terminal

NOW = datetime(2026, 5, 1, tzinfo=UTC)
LONG_AGO = datetime(2026, 4, 1, tzinfo=UTC)
PSEUDONYMIZER = Pseudonymizer(SALT)


class Sessions:
    """Completed sessions in cursor order; the cursor token is the position."""

    def __init__(
        self, snapshots: list[SessionSnapshot], existing: Sequence[SessionKey] = ()
    ) -> None:
        self.snapshots = snapshots
        self.existing = set(existing)  # other documents: not completed, but there

    def get_many(self, keys: Sequence[SessionKey]) -> dict[SessionKey, SessionSnapshot | None]:
        known = {snapshot.key: snapshot for snapshot in self.snapshots}
        known.update({key: SessionSnapshot(key, {}) for key in self.existing})
        return {key: known.get(key) for key in keys}

    def completed_sessions(
        self, *, after: str | None = None, **_: Any
    ) -> Iterator[tuple[SessionSnapshot, str]]:
        if after is not None and not after.isdigit():
            raise ValueError(f"not a resume token: {after!r}")
        start = int(after) + 1 if after is not None else 0
        return iter(
            (snapshot, str(index))
            for index, snapshot in enumerate(self.snapshots)
            if index >= start
        )


NO_DUPLICATES = RawDuplicates(0, 0)


class Rows:
    """`sessions_latest` rows, sorted as the real reader returns them."""

    def __init__(
        self, rows: list[dict[str, Any]], duplicates: RawDuplicates = NO_DUPLICATES
    ) -> None:
        self.rows = sorted(rows, key=lambda row: (row["user_id_hash"], row["session_id"]))
        self.duplicates = duplicates

    def latest_rows(self, **_: Any) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def raw_duplicates(self, **_: Any) -> RawDuplicates:
        return self.duplicates


class HeldLetters:
    """A hold subscription: pulled letters stay leased until acked or released."""

    def __init__(self, letters: list[DeadLetter]) -> None:
        self.waiting = list(letters)
        self.leased: dict[str, DeadLetter] = {}
        self.acked: list[str] = []

    def pull(self, max_messages: int) -> list[DeadLetter]:
        page, self.waiting = self.waiting[:max_messages], self.waiting[max_messages:]
        self.leased.update((letter.ack_id, letter) for letter in page)
        return page

    def ack(self, ack_ids: Sequence[str]) -> None:
        for ack_id in ack_ids:
            del self.leased[ack_id]
            self.acked.append(ack_id)

    def release(self, ack_ids: Sequence[str]) -> None:
        self.waiting.extend(self.leased.pop(ack_id) for ack_id in ack_ids)


def letter(number: int, data: bytes | None = None) -> DeadLetter:
    message = SessionCompleted(f"user-{number % 3}", f"s{number % 3}", f"trigger-{number}")
    body, attributes = message.encode()
    return DeadLetter(f"ack-{number}", f"m{number}", body if data is None else data, attributes)


class InterruptingPublisher(FakePublisher):
    """Accepts `limit` messages, then the operator presses Ctrl-C."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def publish(self, messages: Sequence[SessionCompleted]) -> list[str]:
        if len(self.messages) + len(messages) > self.limit:
            raise KeyboardInterrupt
        return super().publish(messages)


def session(name: str, sync_status: str | None = None) -> SessionSnapshot:
    data = {**full_document(), "sessionId": name}
    if sync_status:
        data["bigquerySyncStatus"] = sync_status
    return SessionSnapshot(SessionKey(f"user-{name}", name), data, LONG_AGO)


def latest_row(snapshot: SessionSnapshot) -> dict[str, Any]:
    row = session_row(
        snapshot.key.user_id,
        snapshot.key.session_id,
        snapshot.data,
        pseudonymizer=PSEUDONYMIZER,
        synced_at=LONG_AGO,
    )
    return {**row, "synced_at": LONG_AGO}


def ports(
    *,
    sessions: list[SessionSnapshot] | None = None,
    failures: StatusFailures | None = None,
    rows: Rows | None = None,
    publisher: FakePublisher | None = None,
    letters: HeldLetters | None = None,
    existing: Sequence[str] = (),
) -> OperatorPorts:
    """Operator ports over fakes; `existing` names other session documents (USER/SESSION)."""
    keys = [SessionKey(*name.split("/")) for name in existing]
    return OperatorPorts(
        sessions=Sessions(sessions or [], keys),  # type: ignore[arg-type]
        failures=failures or StatusFailures(),
        publisher=publisher or FakePublisher(),
        rows=rows or Rows([]),
        dead_letters=letters or HeldLetters([]),
        pseudonymizer=PSEUDONYMIZER,
        topic="projects/p/topics/session-completed",
        hold_subscription="projects/p/subscriptions/dead-letter-hold",
    )


def console(stdin: io.StringIO | None = None) -> Console:
    return Console(stdin=stdin or io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO())


def out(terminal: Console) -> str:
    return terminal.stdout.getvalue()  # type: ignore[attr-defined, no-any-return]


def err(terminal: Console) -> str:
    return terminal.stderr.getvalue()  # type: ignore[attr-defined, no-any-return]


def published(operator: OperatorPorts) -> list[str]:
    return [message.session_id for message in operator.publisher.messages]  # type: ignore[attr-defined]


# --- usage errors through the real parser (no network: they fail before any client exists)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["replay"], "choose sessions"),
        (["replay", "--failures", "--since", "2026-01-01"], "use them with --status"),
        (["replay", "--session", "u/s", "--batch-size", "0"], "--batch-size"),
        (["backfill", "--batch-size", "0"], "--batch-size"),
        (["reconcile", "--grace", "-1"], "--grace"),
        (["reconcile", "--show", "-1"], "--show"),
        (["failures", "list", "--limit", "0"], "--limit"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "--session", "no-slash"],
        ["replay", "--failures", "resolved"],
        ["replay", "--status", "synced"],
        ["replay", "--session", "u/s", "--rate", "fast"],
        ["failures", "list", "--status", "open"],
        ["reconcile", "--frobnicate"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


@pytest.mark.parametrize("command", ["replay", "backfill", "failures", "reconcile"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: session-sync" in capsys.readouterr().out


def test_guard_maps_errors_to_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    def failing(error: Exception) -> exits.Handler:
        def handler(_: argparse.Namespace) -> int:
            raise error

        return handler

    args = argparse.Namespace()
    assert exits.guarded("x", failing(exits.UsageError("bad")))(args) == 2
    assert exits.guarded("x", failing(TransientError("down")))(args) == 1
    assert exits.guarded("x", failing(PermanentError("denied")))(args) == 1
    assert capsys.readouterr().err.splitlines() == [
        "session-sync x: bad",
        "session-sync x: failed: down",
        "session-sync x: failed: denied",
    ]


# --- replay


def test_replay_combines_selectors_and_publishes_each_session_once(tmp_path: Path) -> None:
    failures = StatusFailures()
    for number, status in enumerate(
        (FailureStatus.ABANDONED, FailureStatus.PENDING, FailureStatus.RESOLVED), start=1
    ):
        failures.records[f"r{number}"] = FailureRecord(
            f"r{number}", "user-a", f"s{number}", f"e{number}", "boom", status
        )
    failures.records["r9"] = FailureRecord(
        "r9", "", "", "message:9", "undecodable", FailureStatus.ABANDONED
    )
    ids = tmp_path / "ids.jsonl"
    ids.write_text(
        '{"user_id": "user-a", "session_id": "s1"}\n{"user_id": "u", "session_id": "x"}\n'
    )
    operator = ports(
        failures=failures,
        sessions=[session("f1", "failed"), session("f2")],
        existing=["user-a/s2", "user-a/s1", "u/x"],
    )
    terminal = console()
    request = ReplayRequest(
        sessions=(SessionKey("user-a", "s2"),),
        files=(ids,),
        failure_statuses=("pending", "abandoned"),
        sync_statuses=("failed",),
        yes=True,
    )

    assert replay(request, operator, terminal) == exits.OK

    assert published(operator) == ["s2", "s1", "x", "f1"]
    assert {m.origin for m in operator.publisher.messages} == {"replay"}  # type: ignore[attr-defined]
    summary = err(terminal)
    assert (
        "published 4 message(s) (origin=replay) to projects/p/topics/session-completed" in summary
    )
    assert "2 repeated selection(s) published once" in summary
    assert "1 failure record(s) without a session skipped (undecodable messages: r9)" in summary
    assert out(terminal) == ""


def test_replay_refuses_sessions_that_are_not_in_firestore_before_publishing(
    tmp_path: Path,
) -> None:
    ids = tmp_path / "ids.jsonl"
    ids.write_text(
        '{"user_id": "user-a", "session_id": "a"}\n{"user_id": "u", "session_id": "gone"}\n'
    )
    operator = ports(sessions=[session("a")])
    request = ReplayRequest(sessions=(SessionKey("u", "does-not-exist"),), files=(ids,), yes=True)

    with pytest.raises(exits.UsageError) as refused:
        replay(request, operator, console())

    assert "u/does-not-exist" in str(refused.value) and "u/gone" in str(refused.value)
    assert "2 of 3" in str(refused.value)
    assert published(operator) == []


def test_replay_dry_run_lists_json_lines_and_publishes_nothing() -> None:
    operator = ports(existing=["u/s1", "u/s2"])
    terminal = console()
    request = ReplayRequest(sessions=(SessionKey("u", "s1"), SessionKey("u", "s2")), dry_run=True)

    assert replay(request, operator, terminal) == exits.OK

    assert published(operator) == []
    assert [json.loads(line) for line in out(terminal).splitlines()] == [
        {"user_id": "u", "session_id": "s1"},
        {"user_id": "u", "session_id": "s2"},
    ]
    assert "would publish 2 message(s)" in err(terminal)


def test_replay_asks_on_a_terminal_and_a_no_publishes_nothing() -> None:
    operator = ports()
    terminal = Console(stdin=Terminal("n\n"), stdout=io.StringIO(), stderr=Terminal())
    request = ReplayRequest(failure_statuses=("abandoned",))

    assert replay(request, operator, terminal) == exits.FAILED

    assert published(operator) == []
    assert err(terminal).startswith(
        "Publish replay messages for failure records abandoned to"
        " projects/p/topics/session-completed? [y/N] "
    )
    assert "declined" in err(terminal)


def test_replay_without_a_terminal_needs_yes() -> None:
    operator = ports(existing=["u/s"])
    with pytest.raises(exits.UsageError, match="--yes"):
        replay(ReplayRequest(sessions=(SessionKey("u", "s"),)), operator, console())
    assert published(operator) == []


def test_replay_checks_the_whole_id_file_before_publishing(tmp_path: Path) -> None:
    ids = tmp_path / "ids.jsonl"
    ids.write_text('{"user_id": "u", "session_id": "s1"}\nnot json\n')
    operator = ports()
    with pytest.raises(exits.UsageError, match=f"{ids}:2"):
        replay(ReplayRequest(files=(ids,), yes=True), operator, console())
    assert published(operator) == []


def test_replay_reports_a_publish_failure_with_exit_1() -> None:
    operator = ports(existing=["u/s"])
    operator.publisher.outage.down = True  # type: ignore[attr-defined]
    terminal = console()
    request = ReplayRequest(sessions=(SessionKey("u", "s"),), yes=True)

    assert replay(request, operator, terminal) == exits.FAILED
    assert "replay: failed: publish: service unavailable" in err(terminal)
    assert "published 0 message(s)" in err(terminal)


def test_replay_drains_dead_letters_acking_each_once_its_replay_is_out() -> None:
    letters = HeldLetters([letter(n) for n in range(7)] + [letter(9, data=b"not json")])
    operator = ports(letters=letters, existing=["user-0/s0"])
    terminal = console()
    request = ReplayRequest(
        sessions=(SessionKey("user-0", "s0"),), dead_letters=True, yes=True, batch_size=2
    )

    assert replay(request, operator, terminal) == exits.OK

    assert published(operator) == ["s0", "s1", "s2"]
    assert sorted(letters.acked) == [f"ack-{n}" for n in range(7)]
    assert [held.ack_id for held in letters.waiting] == ["ack-9"]  # undecodable: still held
    assert letters.leased == {}
    assert "8 dead letter(s) read, 1 undecodable left held" in err(terminal)
    assert "5 repeated selection(s) published once" in err(terminal)


def test_replay_dead_letters_dry_run_leaves_every_letter_held() -> None:
    letters = HeldLetters([letter(n) for n in range(5)])
    operator = ports(letters=letters)
    terminal = console()

    code = replay(ReplayRequest(dead_letters=True, dry_run=True, batch_size=2), operator, terminal)

    assert code == exits.OK
    assert len(out(terminal).splitlines()) == 3
    assert letters.acked == [] and len(letters.waiting) == 5 and letters.leased == {}
    assert "(all left held: dry run)" in err(terminal)


def test_a_failed_replay_publish_leaves_its_dead_letters_held() -> None:
    letters = HeldLetters([letter(n) for n in range(3)])
    operator = ports(letters=letters)
    operator.publisher.outage.down = True  # type: ignore[attr-defined]
    code = replay(ReplayRequest(dead_letters=True, yes=True), operator, console())
    assert code == exits.FAILED
    assert letters.acked == []
    assert len(letters.leased) == 3  # redelivered by Pub/Sub when the lease runs out


# --- backfill


def backfill_world() -> list[SessionSnapshot]:
    statuses = [None, "synced", "abandoned", "failed", "invalid", None, "synced", None]
    return [session(f"s{index}", status) for index, status in enumerate(statuses)]


def test_backfill_publishes_unsynced_and_abandoned_sessions_only() -> None:
    operator = ports(sessions=backfill_world())
    terminal = console()

    assert backfill(BackfillRequest(yes=True), operator, terminal) == exits.OK

    assert published(operator) == ["s0", "s2", "s5", "s7"]
    assert {m.origin for m in operator.publisher.messages} == {"backfill"}  # type: ignore[attr-defined]
    assert "scanned 8 completed session(s), published 4 (origin=backfill)" in err(terminal)
    assert "skipped by sync status: 1 failed, 1 invalid, 2 synced" in err(terminal)


def test_backfill_all_publishes_every_completed_session() -> None:
    operator = ports(sessions=backfill_world())
    assert backfill(BackfillRequest(everything=True, yes=True), operator, console()) == exits.OK
    assert published(operator) == [f"s{index}" for index in range(8)]


def test_interrupted_backfill_prints_a_token_that_resumes_without_gaps() -> None:
    world = [session(f"s{index:02d}", "synced" if index % 3 == 0 else None) for index in range(40)]
    wanted = [s.key.session_id for s in world if s.sync_status is None]
    first = ports(sessions=world, publisher=InterruptingPublisher(limit=10))
    terminal = console()

    code = backfill(BackfillRequest(yes=True, batch_size=4), first, terminal)

    assert code == exits.INTERRUPTED
    [hint] = [line for line in err(terminal).splitlines() if "resume with" in line]
    assert hint.startswith("backfill: resume with: session-sync backfill --resume ")
    token = hint.rsplit(" ", 1)[1]
    second = ports(sessions=world)
    assert backfill(BackfillRequest(resume=token, yes=True, batch_size=4), second, console()) == 0
    done = published(first) + published(second)
    assert sorted(set(done)) == wanted  # no gaps
    assert len(done) == len(wanted)  # and, with whole batches acknowledged, no repeats


def test_backfill_resume_command_repeats_the_window() -> None:
    request = BackfillRequest(
        since=datetime(2026, 1, 1, tzinfo=UTC), everything=True, rate=50.0, resume="old"
    )
    assert request.resume_command("T0K3N") == (
        "session-sync backfill --since 2026-01-01T00:00:00+00:00 --all --rate 50/s --resume T0K3N"
    )


def test_backfill_with_a_malformed_token_is_a_usage_error() -> None:
    with pytest.raises(exits.UsageError, match="--resume: not a resume token"):
        backfill(BackfillRequest(resume="garbage", yes=True), ports(), console())


def test_backfill_failure_prints_the_token_and_exits_1() -> None:
    operator = ports(sessions=backfill_world())
    operator.publisher.outage.down = True  # type: ignore[attr-defined]
    terminal = console()
    assert backfill(BackfillRequest(yes=True, batch_size=1), operator, terminal) == exits.FAILED
    assert "backfill: failed:" in err(terminal)
    assert "nothing was published yet" in err(terminal)


# --- failures list


def failure_store() -> StatusFailures:
    failures = StatusFailures()
    created = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    for number, status in enumerate((FailureStatus.ABANDONED, FailureStatus.INVALID), start=1):
        failures.records[f"r{number}"] = FailureRecord(
            f"r{number}",
            "user-a",
            f"s{number}",
            f"e{number}",
            "insert failed: 503 " + "x" * 200,
            status,
            retry_count=10,
            created_at=created,
        )
    return failures


def test_failures_list_prints_an_aligned_table() -> None:
    terminal = console()
    assert list_failures(ports(failures=failure_store()), terminal) == exits.OK
    header, first, second = out(terminal).splitlines()
    assert header.split() == ["CREATED", "STATUS", "RETRIES", "ORIGIN", "SESSION", "REASON"]
    assert first.startswith("2026-03-04T05:06:07Z  abandoned  10       trigger   user-a/s1")
    assert first.index("user-a/s1") == header.index("SESSION")
    reason = first[header.index("REASON") :]
    assert reason.startswith("insert failed: 503 x") and reason.endswith("...")
    assert len(reason) == 80
    assert "invalid" in second
    assert err(terminal) == "failures: 2 record(s) (1 abandoned, 1 invalid)\n"


def test_failures_list_json_lines_feed_replay(tmp_path: Path) -> None:
    terminal = console()
    list_failures(
        ports(failures=failure_store()), terminal, status=FailureStatus.INVALID, as_json=True
    )
    [line] = out(terminal).splitlines()
    item = json.loads(line)
    assert item["status"] == "invalid" and item["created_at"] == "2026-03-04T05:06:07.000000Z"
    ids = tmp_path / "ids.jsonl"
    ids.write_text(out(terminal))
    operator = ports(existing=["user-a/s2"])
    replay(ReplayRequest(files=(ids,), yes=True), operator, console())
    assert published(operator) == ["s2"]


def test_failures_list_stops_at_the_limit() -> None:
    terminal = console()
    list_failures(ports(failures=failure_store()), terminal, as_json=True, limit=1)
    assert len(out(terminal).splitlines()) == 1


# --- reconcile


def reconcile_world() -> tuple[list[SessionSnapshot], Rows]:
    same, missing, edited = session("a"), session("b"), session("c")
    changed = SessionSnapshot(edited.key, {**edited.data, "repCount": 99}, LONG_AGO)
    ghost = {**latest_row(session("z")), "user_id_hash": "f" * 64}
    rows = Rows([latest_row(same), latest_row(edited), ghost], RawDuplicates(1, 2))
    return [same, missing, changed], rows


def test_reconcile_reports_each_finding_and_exits_1() -> None:
    snapshots, rows = reconcile_world()
    terminal = console()

    code = reconcile(
        ReconcileRequest(), ports(sessions=snapshots, rows=rows), terminal, clock=NOW.timestamp
    )

    assert code == exits.FAILED
    text = out(terminal)
    assert "missing from BigQuery           1" in text
    assert "stale in BigQuery               1" in text
    assert "unexpected in BigQuery          1" in text
    assert "raw duplicate rows (harmless)   2 in 1 session(s)" in text
    assert "missing (1):\n  user-b/b" in text
    assert "stale (1):\n  user-c/c" in text


def test_reconcile_json_lines_and_summary() -> None:
    snapshots, rows = reconcile_world()
    terminal = console()
    reconcile(
        ReconcileRequest(as_json=True),
        ports(sessions=snapshots, rows=rows),
        terminal,
        clock=NOW.timestamp,
    )
    lines = [json.loads(line) for line in out(terminal).splitlines()]
    assert sorted(line.get("finding", "") for line in lines) == [
        "",
        "missing",
        "stale",
        "unexpected",
    ]
    summary = lines[-1]["summary"]
    assert summary["counts"]["ok"] == 1
    assert summary["raw_duplicates"] == {"sessions": 1, "extra_rows": 2}
    assert summary["firestore_completed_sessions"] == 3 and summary["bigquery_latest_rows"] == 3


def test_reconcile_repair_replays_missing_and_stale_but_cannot_fix_unexpected() -> None:
    snapshots, rows = reconcile_world()
    operator = ports(sessions=snapshots, rows=rows)
    terminal = console()

    code = reconcile(
        ReconcileRequest(repair=True, yes=True), operator, terminal, clock=NOW.timestamp
    )

    assert sorted(published(operator)) == ["b", "c"]
    assert {m.origin for m in operator.publisher.messages} == {"replay"}  # type: ignore[attr-defined]
    assert code == exits.FAILED
    assert "1 unexpected row(s) remain" in err(terminal)


def test_reconcile_repair_exits_0_when_everything_found_was_replayed() -> None:
    snapshots, rows = reconcile_world()
    rows.rows = [row for row in rows.rows if row["user_id_hash"] != "f" * 64]
    operator = ports(sessions=snapshots, rows=rows)
    assert (
        reconcile(ReconcileRequest(repair=True, yes=True), operator, console(), clock=NOW.timestamp)
        == 0
    )
    assert sorted(published(operator)) == ["b", "c"]


def test_reconcile_repair_asks_and_needs_yes_without_a_terminal() -> None:
    snapshots, rows = reconcile_world()
    operator = ports(sessions=snapshots, rows=rows)
    with pytest.raises(exits.UsageError, match="--yes"):
        reconcile(ReconcileRequest(repair=True), operator, console(), clock=NOW.timestamp)
    assert published(operator) == []


def test_reconcile_of_a_consistent_world_exits_0_and_repairs_nothing() -> None:
    snapshot = session("a")
    operator = ports(sessions=[snapshot], rows=Rows([latest_row(snapshot)]))
    terminal = console()
    assert reconcile(ReconcileRequest(repair=True), operator, terminal, clock=NOW.timestamp) == 0
    assert out(terminal).endswith("result: consistent\n")
    assert published(operator) == []


def test_reconcile_spills_large_inputs_and_still_matches() -> None:
    snapshots = [session(f"s{index:03d}") for index in range(60)]
    rows = Rows([latest_row(snapshot) for snapshot in snapshots[5:]])
    terminal = console()
    request = ReconcileRequest(as_json=True, run_size=7)
    assert (
        reconcile(request, ports(sessions=snapshots, rows=rows), terminal, clock=NOW.timestamp) == 1
    )
    lines = [json.loads(line) for line in out(terminal).splitlines()]
    assert sorted(line["session_id"] for line in lines[:-1]) == [f"s{i:03d}" for i in range(5)]
    assert lines[-1]["summary"]["counts"]["ok"] == 55


def test_reconcile_needs_the_salt_the_other_commands_do_not() -> None:
    operator = dataclasses.replace(ports(sessions=[session("a")]), pseudonymizer=None)
    with pytest.raises(exits.UsageError, match="salt"):
        reconcile(ReconcileRequest(), operator, console(), clock=NOW.timestamp)
    assert backfill(BackfillRequest(yes=True), operator, console()) == exits.OK
    assert published(operator) == ["a"]
