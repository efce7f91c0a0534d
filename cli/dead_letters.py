"""Drain the dead-letter hold subscription into replays: ack each letter once its replay is out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cli.publishing import BatchPublisher
from shared.contract import decode
from shared.errors import PermanentError
from shared.model import SessionKey
from shared.ports import DeadLetterSource

# Consecutive empty pulls that mean "drained" (a pull may come back empty while messages wait).
EMPTY_PULLS = 2


@dataclass
class DrainStats:
    """Letters pulled, and how many of them were no `SessionCompleted` message."""

    letters: int = 0
    undecodable: int = 0


def drain(
    source: DeadLetterSource,
    batches: BatchPublisher,
    *,
    first_time: Callable[[SessionKey], bool],
    keep: bool,
    pull_size: int,
) -> DrainStats:
    """Replay the session of every held letter until the subscription is empty.

    Each pulled page is published (`first_time(key)` False: already replayed
    in this run) and then acknowledged, so a failed publish leaves its letters
    held. Undecodable letters, and every letter when `keep` (a dry run), stay
    leased until the end and are then released back, so one run never sees the
    same letter twice and the next run finds them again.
    """
    stats = DrainStats()
    held: list[str] = []
    empty = 0
    try:
        while empty < EMPTY_PULLS:
            letters = source.pull(pull_size)
            if not letters:
                empty += 1
                continue
            empty = 0
            replayed: list[str] = []
            for letter in letters:
                stats.letters += 1
                try:
                    message = decode(letter.data, letter.attributes)
                except PermanentError:
                    stats.undecodable += 1
                    held.append(letter.ack_id)
                    continue
                key = SessionKey(message.user_id, message.session_id)
                if first_time(key):
                    batches.add(key)
                replayed.append(letter.ack_id)
            batches.flush()
            if keep:
                held.extend(replayed)
            elif replayed:
                source.ack(replayed)
    finally:
        if held:
            source.release(held)
    return stats
