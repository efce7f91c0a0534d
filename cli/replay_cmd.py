"""`session-sync replay`: publish fresh `SessionCompleted` messages for selected sessions."""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cli import exits, selectors
from cli.arguments import add_publish_arguments, add_window_arguments
from cli.bootstrap import OperatorPorts, build_operator_ports
from cli.confirm import confirm
from cli.console import Console
from cli.dead_letters import DrainStats, drain
from cli.exits import UsageError
from cli.progress import Progress
from cli.publishing import DEFAULT_BATCH, BatchPublisher, ListingPublisher, Throttle
from cli.timeparse import check_window
from shared.errors import TransientError
from shared.model import SessionKey
from shared.settings import load_settings

LOOKUP_BATCH = 300  # sessions looked up per Firestore round trip


@dataclass(frozen=True)
class ReplayRequest:
    """The selectors and options of one replay, validated."""

    sessions: tuple[SessionKey, ...] = ()
    files: tuple[Path, ...] = ()
    failure_statuses: tuple[str, ...] = ()
    sync_statuses: tuple[str, ...] = ()
    dead_letters: bool = False
    since: datetime | None = None
    until: datetime | None = None
    dry_run: bool = False
    rate: float | None = None
    yes: bool = False
    batch_size: int = DEFAULT_BATCH

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ReplayRequest:
        """Validate the combination of options; raises `UsageError`."""
        failure_statuses: list[str] = []
        for value in args.failures or ():
            failure_statuses.extend(
                selectors.DEFAULT_FAILURE_STATUSES if value == "open" else (value,)
            )
        request = cls(
            sessions=tuple(args.session or ()),
            files=tuple(args.file or ()),
            failure_statuses=tuple(dict.fromkeys(failure_statuses)),
            sync_statuses=tuple(dict.fromkeys(args.status or ())),
            dead_letters=args.dead_letters,
            since=args.since,
            until=args.until,
            dry_run=args.dry_run,
            rate=args.rate,
            yes=args.yes,
            batch_size=args.batch_size,
        )
        if not (
            request.sessions
            or request.files
            or failure_statuses
            or request.sync_statuses
            or request.dead_letters
        ):
            raise UsageError(
                "choose sessions with --session, --file, --failures, --status or --dead-letters"
            )
        if (request.since or request.until) and not request.sync_statuses:
            raise UsageError("--since/--until select completed sessions: use them with --status")
        if request.batch_size < 1:
            raise UsageError("--batch-size must be at least 1")
        check_window(request.since, request.until)
        return request

    @property
    def explicit_only(self) -> bool:
        """Only ids given on the command line or in files: the total is known in advance."""
        return not (self.failure_statuses or self.sync_statuses or self.dead_letters)

    def describe(self, hold_subscription: str) -> str:
        """The selection in words, for the confirmation question."""
        parts = []
        if self.sessions:
            parts.append(f"{len(self.sessions)} session(s) given with --session")
        parts.extend(f"the sessions listed in {path}" for path in self.files)
        if self.failure_statuses:
            parts.append(f"failure records {'/'.join(self.failure_statuses)}")
        if self.sync_statuses:
            window = _window(self.since, self.until)
            parts.append(f"completed sessions{window} with status {'/'.join(self.sync_statuses)}")
        if self.dead_letters:
            parts.append(f"the messages held in {hold_subscription}")
        return ", ".join(parts)


@dataclass
class ReplayStats:
    """What the selection yielded beyond the sessions published.

    Memory: one key per distinct session selected, to publish each once.
    """

    selected: int = 0
    repeats: int = 0
    skipped_records: list[str] = field(default_factory=list)
    dead_letters: DrainStats | None = None
    seen: set[SessionKey] = field(default_factory=set)

    def first_time(self, key: SessionKey) -> bool:
        """Count a selection; True unless this session was selected before in this run."""
        self.selected += 1
        if key in self.seen:
            self.repeats += 1
            return False
        self.seen.add(key)
        return True


def register(commands: Any) -> None:
    """Add `replay` to the command parser."""
    parser = commands.add_parser(
        "replay",
        help="publish fresh SessionCompleted messages (origin=replay) for chosen sessions",
        description=(
            "Publish one SessionCompleted message (new event id, origin=replay) per selected"
            " session to the live topic, so it takes the same path as live traffic and writes"
            " a new row version. Selectors combine; a session selected twice is published once."
            " Asks for confirmation on a terminal; elsewhere needs --yes. Prints a summary on"
            " stderr; exit 0 when everything was published, 1 on failure or when declined,"
            " 2 on usage errors, 130 when interrupted."
        ),
    )
    chosen = parser.add_argument_group("selectors (at least one)")
    chosen.add_argument(
        "--session",
        action="append",
        type=selectors.parse_session,
        metavar="USER_ID/SESSION_ID",
        help="one session; repeatable",
    )
    chosen.add_argument(
        "--failures",
        action="append",
        nargs="?",
        const="open",
        choices=(*selectors.FAILURE_CHOICES, "open"),
        metavar="STATUS",
        help=(
            "sessions of bigquerySyncFailures records with this status: pending, abandoned,"
            " invalid, or open (= pending and abandoned, the default when no value is given);"
            " repeatable"
        ),
    )
    chosen.add_argument(
        "--status",
        action="append",
        choices=selectors.STATUS_CHOICES,
        help=(
            "completed sessions whose bigquerySyncStatus is failed or abandoned, or unsynced"
            " (no status yet); repeatable; narrow with --since/--until"
        ),
    )
    chosen.add_argument(
        "--file",
        action="append",
        type=Path,
        metavar="IDS.jsonl",
        help='JSON lines with "user_id" and "session_id" (other fields ignored); repeatable',
    )
    chosen.add_argument(
        "--dead-letters",
        action="store_true",
        help=(
            "the sessions of the messages held in the dead-letter subscription"
            " (PUBSUB_DEAD_LETTER_TOPIC-hold); each is acknowledged once its replay is"
            " published, undecodable ones stay held (a dry run leaves all of them)"
        ),
    )
    add_window_arguments(parser, what="with --status: completed sessions whose startTime is")
    add_publish_arguments(parser)
    parser.set_defaults(handler=exits.guarded("replay", run))


def run(args: argparse.Namespace) -> int:
    """Entry point: validate, build the real adapters, replay."""
    request = ReplayRequest.from_args(args)
    return replay(request, build_operator_ports(load_settings()), Console())


def replay(request: ReplayRequest, ports: OperatorPorts, console: Console) -> int:
    """Publish one replay message per selected session; return the exit code.

    Id files are read once up front, and the sessions given by id looked up, so that
    a bad line or a session that does not exist stops the command before anything is
    published. Raises `UsageError` (bad file, unknown session, no terminal without
    `--yes`).
    """
    total = _explicit_total(request)
    _refuse_missing(request, ports)
    if not request.dry_run and not confirm(
        f"Publish replay messages for {request.describe(ports.hold_subscription)}"
        f" to {ports.topic}?",
        assume_yes=request.yes,
        stdin=console.stdin,
        stderr=console.stderr,
    ):
        console.say("replay: declined, nothing published")
        return exits.FAILED
    stats = ReplayStats()
    progress = Progress(
        "replay", total=total if request.explicit_only else None, stream=console.stderr
    )
    batches = BatchPublisher(
        ListingPublisher(console.stdout) if request.dry_run else ports.publisher,
        origin="replay",
        throttle=Throttle(None if request.dry_run else request.rate),
        progress=progress,
        batch_size=request.batch_size,
    )
    started = time.monotonic()
    code, problem = exits.OK, ""
    try:
        for key in _selection(request, ports, stats):
            if stats.first_time(key):
                batches.add(key)
        batches.flush()
        if request.dead_letters:
            stats.dead_letters = drain(
                ports.dead_letters,
                batches,
                first_time=stats.first_time,
                keep=request.dry_run,
                pull_size=request.batch_size,
            )
    except TransientError as error:
        code, problem = exits.FAILED, f"replay: failed: {error}"
    except KeyboardInterrupt:
        code, problem = exits.INTERRUPTED, "replay: interrupted"
    finally:
        progress.close()
    if problem:
        console.say(problem)
    console.say(_summary(request, ports, stats, batches.published, time.monotonic() - started))
    return code


def _refuse_missing(request: ReplayRequest, ports: OperatorPorts) -> None:
    """Refuse ids that name no session: a replay of one would only record it `invalid`."""
    explicit = list(
        dict.fromkeys(
            itertools.chain(
                request.sessions, *(selectors.file_sessions(path) for path in request.files)
            )
        )
    )
    missing: list[SessionKey] = []
    for start in range(0, len(explicit), LOOKUP_BATCH):
        found = ports.sessions.get_many(explicit[start : start + LOOKUP_BATCH])
        missing.extend(key for key, snapshot in found.items() if snapshot is None)
    if missing:
        shown = ", ".join(str(key) for key in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise UsageError(
            f"{len(missing)} of {len(explicit)} session(s) given by id are not in Firestore:"
            f" {shown}{more}; nothing published"
        )


def _explicit_total(request: ReplayRequest) -> int:
    """Validate every id file (before any publish) and count the explicitly given sessions."""
    return len(request.sessions) + sum(selectors.count_file_sessions(p) for p in request.files)


def _selection(
    request: ReplayRequest, ports: OperatorPorts, stats: ReplayStats
) -> Iterator[SessionKey]:
    yield from itertools.chain(
        request.sessions, *(selectors.file_sessions(path) for path in request.files)
    )
    if request.failure_statuses:
        yield from selectors.failure_sessions(
            ports.failures, request.failure_statuses, skipped=stats.skipped_records
        )
    if request.sync_statuses:
        yield from selectors.status_sessions(
            ports.sessions, request.sync_statuses, since=request.since, until=request.until
        )


def _summary(
    request: ReplayRequest, ports: OperatorPorts, stats: ReplayStats, published: int, seconds: float
) -> str:
    rate = published / seconds if seconds > 0 else 0.0
    verb = "would publish" if request.dry_run else "published"
    parts = [
        f"replay: {verb} {published} message(s) (origin=replay) to {ports.topic}"
        f" in {seconds:.1f} s ({rate:,.0f}/s)"
    ]
    if stats.repeats:
        parts.append(f"{stats.repeats} repeated selection(s) published once")
    if stats.dead_letters is not None:
        letters = stats.dead_letters
        kept = " (all left held: dry run)" if request.dry_run else ""
        parts.append(
            f"{letters.letters} dead letter(s) read{kept}, {letters.undecodable} undecodable"
            " left held"
        )
    if stats.skipped_records:
        parts.append(
            f"{len(stats.skipped_records)} failure record(s) without a session skipped"
            f" (undecodable messages: {', '.join(stats.skipped_records[:5])}"
            f"{', ...' if len(stats.skipped_records) > 5 else ''})"
        )
    return "; ".join(parts)


def _window(since: datetime | None, until: datetime | None) -> str:
    if since is None and until is None:
        return ""
    start = since.isoformat() if since else "the beginning"
    end = until.isoformat() if until else "now"
    return f" started from {start} to {end}"
