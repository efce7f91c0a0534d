"""Batched, throttled publishing of replay messages, and the dry-run listing."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from cli.progress import Progress
from cli.publishing import BatchPublisher, ListingPublisher, Throttle, parse_rate
from shared.contract import decode
from shared.errors import TransientError
from shared.model import SessionKey
from tests.unit.fakes import FakePublisher


class FakeTime:
    """A clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(("text", "rate"), [("200/s", 200.0), ("200", 200.0), ("2.5 / s", 2.5)])
def test_rate_is_messages_per_second(text: str, rate: float) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["0", "0/s", "-5/s", "fast", "10/min", ""])
def test_rate_rejects_anything_else(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="messages per second"):
        parse_rate(text)


def test_throttle_keeps_the_average_rate() -> None:
    fake = FakeTime()
    throttle = Throttle(100.0, clock=fake.clock, sleep=fake.sleep)
    assert throttle.batch_size(500) == 100
    for _ in range(5):
        throttle.wait(100)
    assert fake.sleeps == [1.0, 1.0, 1.0, 1.0]
    assert fake.now == 4.0  # the fifth batch of 100 went at t=4 s: 500 messages in 5 s


def test_throttle_does_not_sleep_when_the_work_is_slower_than_the_rate() -> None:
    fake = FakeTime()
    throttle = Throttle(10.0, clock=fake.clock, sleep=fake.sleep)
    throttle.wait(10)
    fake.now += 5.0
    throttle.wait(10)
    assert fake.sleeps == []


def test_unlimited_throttle_never_sleeps_and_keeps_the_batch_size() -> None:
    fake = FakeTime()
    throttle = Throttle(None, clock=fake.clock, sleep=fake.sleep)
    assert throttle.batch_size(500) == 500
    throttle.wait(10_000)
    assert fake.sleeps == []


def test_slow_rates_publish_one_message_at_a_time() -> None:
    assert Throttle(0.5).batch_size(500) == 1


def _batches(publisher: object, batch_size: int = 3) -> BatchPublisher:
    return BatchPublisher(
        publisher,  # type: ignore[arg-type]
        origin="replay",
        throttle=Throttle(None),
        progress=Progress("t", stream=io.StringIO()),
        batch_size=batch_size,
    )


def test_batches_publish_when_full_and_on_flush_with_fresh_event_ids() -> None:
    publisher = FakePublisher()
    batches = _batches(publisher)
    for number in range(7):
        batches.add(SessionKey("u", f"s{number}"))
        assert batches.pending == (number + 1) % 3
    assert batches.published == 6
    batches.flush()

    assert batches.published == 7 and batches.pending == 0
    messages = publisher.messages
    assert [m.session_id for m in messages] == [f"s{n}" for n in range(7)]
    assert {m.origin for m in messages} == {"replay"}
    assert len({m.event_id for m in messages}) == 7
    assert all(m.event_id.startswith("replay-") for m in messages)


def test_a_failed_publish_keeps_the_batch_pending_and_raises() -> None:
    publisher = FakePublisher()
    batches = _batches(publisher)
    batches.add(SessionKey("u", "s1"))
    publisher.outage.down = True
    with pytest.raises(TransientError):
        batches.flush()
    assert batches.published == 0 and batches.pending == 1


def test_listing_publisher_prints_lines_replay_file_reads() -> None:
    stream = io.StringIO()
    batches = _batches(ListingPublisher(stream))
    batches.add(SessionKey("user-1", "s-ü"))
    batches.flush()
    assert [json.loads(line) for line in stream.getvalue().splitlines()] == [
        {"user_id": "user-1", "session_id": "s-ü"}
    ]


def test_published_messages_decode_as_the_contract_says() -> None:
    publisher = FakePublisher()
    batches = _batches(publisher)
    batches.add(SessionKey("u", "s"))
    batches.flush()
    message = publisher.messages[0]
    data, attributes = message.encode()
    assert decode(data, attributes) == message
    assert attributes["origin"] == "replay"
