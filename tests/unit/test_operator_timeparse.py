"""`--since`/`--until` parsing: dates and RFC 3339 in, UTC datetimes out, exit 2 otherwise."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from cli.exits import UsageError
from cli.main import main
from cli.timeparse import check_window, parse_moment


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T09:30:00Z", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01t09:30:00z", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01 09:30:00Z", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01T18:30:00+09:00", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01T00:30:00-02:00", datetime(2026, 3, 1, 2, 30, tzinfo=UTC)),
        ("2026-03-01T09:30:00.123456789Z", datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)),
        ("2026-03-01T09:30:00.5Z", datetime(2026, 3, 1, 9, 30, 0, 500000, tzinfo=UTC)),
        ("  2026-03-01  ", datetime(2026, 3, 1, tzinfo=UTC)),
    ],
)
def test_accepts_dates_and_zoned_timestamps_as_utc(text: str, expected: datetime) -> None:
    moment = parse_moment(text)
    assert moment == expected
    assert moment.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("2026-03-01T09:30:00", "with a zone"),
        ("yesterday", "not a date"),
        ("2026-3-1", "not a date"),
        ("2026-02-30", "not a valid date"),
        ("2026-03-01T25:00:00Z", "not a valid timestamp"),
        ("1709280000", "not a date"),
        ("", "not a date"),
    ],
)
def test_rejects_anything_else_naming_the_formats(text: str, needle: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=needle) as caught:
        parse_moment(text)
    assert repr(text) in str(caught.value)


def test_window_must_be_ordered() -> None:
    check_window(None, datetime(2026, 1, 1, tzinfo=UTC))
    check_window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    with pytest.raises(UsageError, match="must be before --until"):
        check_window(datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))


@pytest.mark.parametrize(
    "argv",
    [
        ["backfill", "--since", "last week"],
        ["reconcile", "--until", "2026-03-01T10:00"],
        ["failures", "list", "--since", "2026-13-01"],
        ["replay", "--status", "failed", "--since", "nope"],
    ],
)
def test_a_bad_time_is_a_usage_error_with_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {argv[-2]}" in error
    assert "RFC 3339" in error or "not a valid" in error


def test_an_inverted_window_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["reconcile", "--since", "2026-03-02", "--until", "2026-03-01"])
    assert code == 2
    assert "--since" in capsys.readouterr().err


@pytest.mark.parametrize("offset", ["+24:00", "+25:00", "-24:30", "+09:60"])
def test_an_offset_out_of_range_is_named_in_plain_words(offset: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as raised:
        parse_moment(f"2026-01-01T00:00:00{offset}")
    message = str(raised.value)
    assert "timedelta" not in message
    assert offset in message and "-23:59 and +23:59" in message
