"""`session-sync transform`: print the BigQuery row for one session document."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from shared.errors import PermanentError
from shared.pseudonym import Pseudonymizer
from shared.rows import session_row
from shared.settings import load_settings

INVALID_INPUT = 2


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "transform",
        help="print the BigQuery row for one session document (JSON)",
        description=(
            "Read one session document as JSON (timestamps as RFC 3339 strings or "
            '{"seconds","nanos"} maps) and print its BigQuery row as JSON. '
            "The user id is hashed with PSEUDONYMIZATION_SALT."
        ),
    )
    parser.add_argument("--user-id", required=True, help="the document's userId path segment")
    parser.add_argument("--session-id", required=True, help="the document's sessionId path segment")
    parser.add_argument(
        "file",
        nargs="?",
        default="-",
        type=argparse.FileType("r", encoding="utf-8"),
        help="the document as JSON; '-' or nothing reads standard input",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    pseudonymizer = Pseudonymizer.from_settings(load_settings())
    try:
        document = json.load(args.file)
    except (ValueError, UnicodeDecodeError) as error:
        print(f"session-sync transform: input: not valid JSON ({error})", file=sys.stderr)
        return INVALID_INPUT
    try:
        row = session_row(
            args.user_id,
            args.session_id,
            document,
            pseudonymizer=pseudonymizer,
            synced_at=datetime.now(UTC),
        )
    except PermanentError as error:
        print(f"session-sync transform: invalid document: {error}", file=sys.stderr)
        return INVALID_INPUT
    print(json.dumps(row, ensure_ascii=False))
    return 0
