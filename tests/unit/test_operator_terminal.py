"""Progress display and confirmation: what a terminal sees, and what a cron job sees."""

from __future__ import annotations

import io

import pytest

from cli.confirm import confirm
from cli.exits import UsageError
from cli.progress import Progress


class Terminal(io.StringIO):
    """A text stream that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_draws_a_bar_with_count_and_rate_on_a_terminal() -> None:
    stream, clock = Terminal(), Clock()
    progress = Progress("replay", total=200, stream=stream, clock=clock)
    clock.now += 2.0
    progress.advance(100)

    assert progress.line() == "replay [###############...............] 100/200  50/s"
    assert stream.getvalue() == "\r" + progress.line()


def test_progress_redraws_at_most_ten_times_a_second_and_erases_itself() -> None:
    stream, clock = Terminal(), Clock()
    progress = Progress("backfill", stream=stream, clock=clock)
    for _ in range(50):
        clock.now += 0.01
        progress.advance(note="scanned 7")
    drawn = stream.getvalue().count("\r")
    progress.close()

    assert 4 <= drawn <= 6
    assert progress.line().startswith("backfill 50  ")
    assert progress.line().endswith("scanned 7")
    assert stream.getvalue().endswith("\r" + " " * len(progress.line()) + "\r")


def test_progress_writes_nothing_when_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress("replay", total=3, stream=stream)
    progress.advance(3)
    progress.close()
    assert stream.getvalue() == ""
    assert progress.done == 3


def test_progress_never_overfills_the_bar() -> None:
    progress = Progress("x", total=2, stream=io.StringIO(), clock=Clock())
    progress.advance(5)
    assert "[" + "#" * 30 + "] 5/2" in progress.line()


def test_yes_skips_the_question_even_without_a_terminal() -> None:
    stderr = io.StringIO()
    assert confirm("Publish?", assume_yes=True, stdin=io.StringIO(), stderr=stderr)
    assert stderr.getvalue() == ""


@pytest.mark.parametrize(
    ("answer", "agreed"),
    [("y\n", True), ("YES\n", True), (" yes \n", True), ("n\n", False), ("\n", False), ("", False)],
)
def test_a_terminal_is_asked_and_only_yes_agrees(answer: str, agreed: bool) -> None:
    stdin, stderr = Terminal(answer), Terminal()
    assert confirm("Publish 3 messages?", assume_yes=False, stdin=stdin, stderr=stderr) is agreed
    assert stderr.getvalue() == "Publish 3 messages? [y/N] "


def test_without_a_terminal_and_without_yes_nothing_proceeds() -> None:
    stderr = io.StringIO()
    with pytest.raises(UsageError, match="--yes"):
        confirm("Publish?", assume_yes=False, stdin=io.StringIO("y\n"), stderr=stderr)
    assert stderr.getvalue() == ""
