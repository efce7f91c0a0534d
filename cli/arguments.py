"""Options shared by several operator commands: the time window and the publishing knobs."""

from __future__ import annotations

import argparse

from cli.publishing import DEFAULT_BATCH, parse_rate
from cli.timeparse import parse_moment


def add_window_arguments(parser: argparse.ArgumentParser, *, what: str) -> None:
    """`--since` (inclusive) and `--until` (exclusive), as dates or RFC 3339 timestamps."""
    parser.add_argument(
        "--since",
        type=parse_moment,
        metavar="TIME",
        help=f"{what} at or after TIME (YYYY-MM-DD = midnight UTC, or RFC 3339 with a zone)",
    )
    parser.add_argument(
        "--until",
        type=parse_moment,
        metavar="TIME",
        help=f"{what} before TIME (exclusive; same formats)",
    )


def add_publish_arguments(parser: argparse.ArgumentParser) -> None:
    """`--dry-run`, `--rate`, `--yes` and `--batch-size`, shared by the publishing commands."""
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the sessions that would be published (JSON lines on stdout), publish nothing",
    )
    parser.add_argument(
        "--rate",
        type=parse_rate,
        metavar="N/s",
        help="publish at most N messages per second (default: as fast as Pub/Sub accepts)",
    )
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH,
        metavar="N",
        help=f"messages per publish round trip (default {DEFAULT_BATCH})",
    )
