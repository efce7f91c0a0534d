"""`session-sync backfill`: publish every completed session not yet synced, resumably."""

from __future__ import annotations

import argparse
import shlex
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cli import exits
from cli.arguments import add_publish_arguments, add_window_arguments
from cli.bootstrap import SCAN_PAGE_SIZE, OperatorPorts, build_operator_ports
from cli.confirm import confirm
from cli.console import Console
from cli.exits import UsageError
from cli.progress import Progress
from cli.publishing import DEFAULT_BATCH, BatchPublisher, ListingPublisher, Throttle
from cli.timeparse import check_window
from shared.errors import TransientError
from shared.model import SessionSnapshot
from shared.settings import load_settings

# Sync statuses a plain backfill publishes: never attempted (no status) or given up on.
# `failed` sessions are still in the retry queue's hands; `invalid` ones need a fixed
# document (then `replay --failures invalid`); `synced` ones are done.
BACKFILL_STATUSES = frozenset({None, "abandoned"})


@dataclass(frozen=True)
class BackfillRequest:
    """The window and options of one backfill, validated."""

    since: datetime | None = None
    until: datetime | None = None
    everything: bool = False
    resume: str | None = None
    dry_run: bool = False
    rate: float | None = None
    yes: bool = False
    batch_size: int = DEFAULT_BATCH

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> BackfillRequest:
        """Validate the options; raises `UsageError`."""
        if args.batch_size < 1:
            raise UsageError("--batch-size must be at least 1")
        check_window(args.since, args.until)
        return cls(
            since=args.since,
            until=args.until,
            everything=args.all,
            resume=args.resume,
            dry_run=args.dry_run,
            rate=args.rate,
            yes=args.yes,
            batch_size=args.batch_size,
        )

    def wants(self, snapshot: SessionSnapshot) -> bool:
        """Whether this completed session is to be published."""
        return self.everything or snapshot.sync_status in BACKFILL_STATUSES

    def resume_command(self, token: str) -> str:
        """The command line that continues this backfill after `token`."""
        words = ["session-sync", "backfill"]
        if self.since:
            words += ["--since", self.since.isoformat()]
        if self.until:
            words += ["--until", self.until.isoformat()]
        if self.everything:
            words.append("--all")
        if self.rate:
            words += ["--rate", f"{self.rate:g}/s"]
        words += ["--resume", token]
        return shlex.join(words)


def register(commands: Any) -> None:
    """Add `backfill` to the command parser."""
    parser = commands.add_parser(
        "backfill",
        help="publish every completed session not yet synced (origin=backfill), resumably",
        description=(
            "Page through all completed sessions (a collection-group query with a cursor) and"
            " publish one SessionCompleted message (origin=backfill) for each one that has no"
            " bigquerySyncStatus yet or was abandoned; with --all, for every completed session."
            " Sessions already synced are skipped, so running it twice publishes nothing the"
            " second time. When interrupted or failing, prints a --resume token that continues"
            " where it stopped, without gaps. Asks for confirmation on a terminal; elsewhere"
            " needs --yes. Exit 0 done, 1 failed or declined, 2 usage error, 130 interrupted."
        ),
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="publish every completed session, synced or not (writes new row versions)",
    )
    parser.add_argument(
        "--resume",
        metavar="TOKEN",
        help="continue after the session this token names (printed by an interrupted run;"
        " use the same --since/--until)",
    )
    add_window_arguments(parser, what="completed sessions whose startTime is")
    add_publish_arguments(parser)
    parser.set_defaults(handler=exits.guarded("backfill", run))


def run(args: argparse.Namespace) -> int:
    """Entry point: validate, build the real adapters, backfill."""
    request = BackfillRequest.from_args(args)
    return backfill(request, build_operator_ports(load_settings()), Console())


def backfill(request: BackfillRequest, ports: OperatorPorts, console: Console) -> int:
    """Publish the wanted completed sessions in cursor order; return the exit code.

    Resume token: after each item, if nothing is waiting in the batch, every
    wanted session up to that item is published, so its cursor is a safe place
    to continue from. Raises `UsageError` for a malformed `--resume` token.
    """
    what = "every completed session" if request.everything else "completed sessions not synced"
    if not request.dry_run and not confirm(
        f"Publish backfill messages for {what} to {ports.topic}?",
        assume_yes=request.yes,
        stdin=console.stdin,
        stderr=console.stderr,
    ):
        console.say("backfill: declined, nothing published")
        return exits.FAILED
    progress = Progress("backfill", stream=console.stderr)
    batches = BatchPublisher(
        ListingPublisher(console.stdout) if request.dry_run else ports.publisher,
        origin="backfill",
        throttle=Throttle(None if request.dry_run else request.rate),
        progress=progress,
        batch_size=request.batch_size,
    )
    skipped: Counter[str] = Counter()
    safe_token = request.resume
    scanned = 0
    started = time.monotonic()
    code, problem = exits.OK, ""
    try:
        pages = ports.sessions.completed_sessions(
            since=request.since,
            until=request.until,
            after=request.resume,
            page_size=SCAN_PAGE_SIZE,
        )
    except ValueError as error:  # the adapter's verdict on a malformed resume token
        raise UsageError(f"--resume: {error}") from None
    try:
        for snapshot, token in pages:
            scanned += 1
            progress.note = f"scanned {scanned}"
            if request.wants(snapshot):
                batches.add(snapshot.key)
            else:
                skipped[str(snapshot.sync_status)] += 1
            if batches.pending == 0:
                safe_token = token
        batches.flush()
    except TransientError as error:
        code, problem = exits.FAILED, f"backfill: failed: {error}"
    except KeyboardInterrupt:
        code, problem = exits.INTERRUPTED, "backfill: interrupted"
    finally:
        progress.close()
    if problem:
        console.say(problem)
        if safe_token:
            console.say(f"backfill: resume with: {request.resume_command(safe_token)}")
        else:
            console.say("backfill: nothing was published yet; run the same command again")
    seconds = time.monotonic() - started
    verb = "would publish" if request.dry_run else "published"
    rate = batches.published / seconds if seconds > 0 else 0.0
    skipped_text = ", ".join(f"{count} {status}" for status, count in sorted(skipped.items()))
    console.say(
        f"backfill: scanned {scanned} completed session(s), {verb} {batches.published}"
        f" (origin=backfill) to {ports.topic} in {seconds:.1f} s ({rate:,.0f}/s)"
        + (f"; skipped by sync status: {skipped_text}" if skipped_text else "")
    )
    return code
