"""A complete, valid session document for unit tests, and path helpers."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

SYNCED_AT = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
SALT = "unit-test-salt-that-is-long-enough-0123456789"


def full_document() -> dict[str, Any]:
    """A session document with every field the transform reads."""
    return copy.deepcopy(
        {
            "sessionId": "s1",
            "exerciseType": "squat",
            "startTime": datetime(2026, 3, 4, 5, 0, 0, tzinfo=UTC),
            "endTime": datetime(2026, 3, 4, 5, 30, 0, tzinfo=UTC),
            "duration": 1800.5,
            "status": "completed",
            "repCount": 30,
            "setCount": 3,
            "formFeedback": {
                "overallScore": 87.5,
                "goodFrames": 900,
                "warningFrames": 80,
                "errorFrames": 20,
                "warnings": ["knees_in", "back_round"],
            },
            "cameraSettings": {"position": "front", "resolution": "1280x720", "fps": 30},
            "sessionMetadata": {
                "totalFrames": 1000,
                "processedFrames": 990,
                "averageFps": 29.5,
                "frameDropCount": 10,
                "averageConfidence": 0.93,
                "mediapipePerformance": {
                    "averageInferenceTime": 12.5,
                    "maxInferenceTime": 40.0,
                    "minInferenceTime": 8.25,
                },
                "deviceInfo": {
                    "platform": "ios",
                    "osVersion": "17.4",
                    "deviceModel": "iPhone15,2",
                    "deviceMemory": 6,
                },
            },
            "createdAt": datetime(2026, 3, 4, 4, 59, 0, tzinfo=UTC),
        }
    )


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        document = document.setdefault(key, {})
    document[leaf] = value


def delete_path(document: dict[str, Any], path: str) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        document = document[key]
    del document[leaf]
