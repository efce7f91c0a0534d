"""Realistic generated users and session documents, deterministic for a seed."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.model import SessionKey

EXERCISES = ("squat", "push_up", "lunge", "plank", "deadlift", "shoulder_press")
WARNINGS = ("knees_in", "back_round", "depth_shallow", "elbows_flared", "hips_sag", "tempo_fast")
DEVICES = (
    ("ios", "17.4", "iPhone15,2", 6.0),
    ("ios", "16.7", "iPhone12,1", 4.0),
    ("android", "14", "Pixel 8", 8.0),
    ("android", "13", "SM-S911B", 8.0),
    ("web", "Chrome 120", "MacBookPro18,3", 16.0),
)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


WRITE_BATCH = 250  # documents per Firestore commit (the limit is 500)


@dataclass(frozen=True)
class GeneratedSession:
    """One session to write at `users/{user_id}/sessions/{session_id}`."""

    user_id: str
    session_id: str
    document: dict[str, Any]

    @property
    def key(self) -> SessionKey:
        return SessionKey(self.user_id, self.session_id)


def write_sessions(
    client: Any,
    sessions: Iterable[GeneratedSession],
    body: Callable[[GeneratedSession], dict[str, Any]] = lambda session: session.document,
) -> dict[SessionKey, datetime]:
    """Set each session's document to `body(session)` in batched commits; return commit times."""
    times: dict[SessionKey, datetime] = {}
    chunk: list[GeneratedSession] = []
    for session in [*sessions, None]:
        if session is not None:
            chunk.append(session)
        if chunk and (session is None or len(chunk) == WRITE_BATCH):
            batch = client.batch()
            for item in chunk:
                batch.set(client.document(item.key.path), body(item))
            for item, result in zip(chunk, batch.commit(), strict=True):
                times[item.key] = result.update_time
            chunk = []
    return times


def generate_sessions(
    count: int,
    *,
    seed: int = 15,
    users: int | None = None,
    start: datetime = EPOCH,
    spread: timedelta = timedelta(days=300),
) -> Iterator[GeneratedSession]:
    """Yield `count` sessions spread over `users` users (default: one user per 4 sessions),
    starting at random whole minutes (or seconds, for a spread under a day) in
    [`start`, `start + spread`).

    Documents are in the `active` state; completing one means setting `status`,
    `endTime` and the feedback fields, as the app does.
    """
    rng = random.Random(seed)
    user_count = users or max(1, count // 4)
    step = timedelta(minutes=1) if spread >= timedelta(days=1) else timedelta(seconds=1)
    steps = max(1, int(spread / step))
    for index in range(count):
        user_id = f"user-{rng.randrange(user_count):05d}"
        session_id = f"session-{seed}-{index:07d}"
        begin = start + step * rng.randrange(steps)
        yield GeneratedSession(user_id, session_id, _document(rng, session_id, begin))


def completed(document: dict[str, Any]) -> dict[str, Any]:
    """The same session once finished: status `completed` plus its results."""
    start: datetime = document["startTime"]
    rng = random.Random(document["sessionId"])
    duration = rng.uniform(300, 3600)
    total = int(duration * 30)
    good = int(total * rng.uniform(0.6, 0.95))
    warning = int((total - good) * rng.uniform(0.3, 0.8))
    return {
        **document,
        "status": "completed",
        "endTime": start + timedelta(seconds=duration),
        "duration": round(duration, 3),
        "repCount": rng.randrange(0, 60),
        "setCount": rng.randrange(1, 6),
        "formFeedback": {
            "overallScore": round(rng.uniform(40, 100), 1),
            "goodFrames": good,
            "warningFrames": warning,
            "errorFrames": total - good - warning,
            "warnings": rng.sample(WARNINGS, rng.randrange(0, 3)),
        },
        "sessionMetadata": {
            **document["sessionMetadata"],
            "totalFrames": total,
            "processedFrames": total - rng.randrange(0, 50),
            "averageFps": round(rng.uniform(20, 30), 2),
            "frameDropCount": rng.randrange(0, 50),
            "averageConfidence": round(rng.uniform(0.7, 0.99), 3),
            "mediapipePerformance": {
                "averageInferenceTime": round(rng.uniform(8, 20), 2),
                "maxInferenceTime": round(rng.uniform(20, 60), 2),
                "minInferenceTime": round(rng.uniform(4, 8), 2),
            },
        },
    }


def _document(rng: random.Random, session_id: str, start: datetime) -> dict[str, Any]:
    platform, os_version, model, memory = rng.choice(DEVICES)
    return {
        "sessionId": session_id,
        "exerciseType": rng.choice(EXERCISES),
        "status": "active",
        "startTime": start,
        "createdAt": start - timedelta(seconds=rng.randrange(1, 60)),
        "cameraSettings": {
            "position": rng.choice(("front", "side")),
            "resolution": rng.choice(("1280x720", "1920x1080")),
            "fps": rng.choice((24, 30, 60)),
        },
        "sessionMetadata": {
            "deviceInfo": {
                "platform": platform,
                "osVersion": os_version,
                "deviceModel": model,
                "deviceMemory": memory,
            }
        },
    }
