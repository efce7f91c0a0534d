"""`--since` / `--until` values: RFC 3339 timestamps or calendar dates, always in UTC."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime

from cli.exits import UsageError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$"
)
EXAMPLES = "2026-03-01 or 2026-03-01T09:30:00Z or 2026-03-01T18:30:00+09:00"


def parse_moment(text: str) -> datetime:
    """Parse `YYYY-MM-DD` (midnight UTC) or an RFC 3339 timestamp with a zone, into UTC.

    Raises `argparse.ArgumentTypeError` (argparse turns it into exit code 2) for
    anything else, including a timestamp without `Z` or an offset.
    """
    value = text.strip()
    if _DATE.match(value):
        try:
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid date ({error})") from None
    if not _RFC3339.match(value):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or an RFC 3339 timestamp with a zone (e.g. {EXAMPLES})"
        )
    date, _, rest = value.replace("t", "T").replace(" ", "T").partition("T")
    clock, zone = _split_zone(rest)
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    if hours > 23 or minutes > 59:
        raise argparse.ArgumentTypeError(
            f"{text!r} has the offset {zone}: an offset is between -23:59 and +23:59"
        )
    whole, _, fraction = clock.partition(".")
    micros = fraction[:6].ljust(6, "0") if fraction else "000000"
    try:
        moment = datetime.fromisoformat(f"{date}T{whole}.{micros}{zone}")
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid timestamp ({error})") from None
    return moment.astimezone(UTC)


def check_window(since: datetime | None, until: datetime | None) -> None:
    """Raise `UsageError` unless `since` is before `until` (when both are given)."""
    if since is not None and until is not None and since >= until:
        raise UsageError(
            f"--since ({since.isoformat()}) must be before --until ({until.isoformat()});"
            " --since is inclusive, --until exclusive"
        )


def _split_zone(rest: str) -> tuple[str, str]:
    if rest[-1] in "Zz":
        return rest[:-1], "+00:00"
    return rest[:-6], rest[-6:]
