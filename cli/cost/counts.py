"""The measured counts (counts.json): what each path cost per session on the local stack."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from shared.errors import ConfigError

COUNTS_FILE = "counts.json"
REQUIRED_PATHS = ("live", "retry", "redrive", "replay", "backfill", "reconcile")
ROUND_PATH = "redrive_round_idle"
# Which CPU figure stands for one request of each function: (mode, batch size).
CPU_FIGURES = {"trigger": ("trigger", "1"), "sync_worker": ("push", "500")}


@dataclass(frozen=True)
class PathCounts:
    """One path's operations per session (per round for the idle redrive round)."""

    name: str
    description: str
    sessions: int
    app_writes_per_session: float
    operations: Mapping[str, float]
    invocations: Mapping[str, float]  # per function
    mean_request_seconds: Mapping[str, float]  # per function, wall time on the local stack

    def get(self, operation: str) -> float:
        return self.operations.get(operation, 0.0)

    def calls(self, function: str) -> float:
        return self.invocations.get(function, 0.0)


@dataclass(frozen=True)
class MeasuredCounts:
    """Everything the benchmark measured, and when and at which commit."""

    measured_at: str
    commit: str
    document_bytes: Mapping[str, float]  # mean JSON size of a session document: active, completed
    paths: Mapping[str, PathCounts]
    cpu: Mapping[str, Any]

    def path(self, name: str) -> PathCounts:
        return self.paths[name]

    def cpu_seconds_per_request(self, function: str) -> float:
        """CPU a request of `function` used on the local stack (0 when not measured): per event
        for the trigger; per pushed message at the production batch size for the sync worker."""
        mode, batch = CPU_FIGURES.get(function, ("", ""))
        figure = self.cpu.get(mode, {}).get(batch, {})
        return float(figure.get("us_per_session") or 0.0) / 1e6


def _path(name: str, entry: Mapping[str, Any]) -> PathCounts:
    unit = "session" if entry.get("sessions") else "round"
    return PathCounts(
        name=name,
        description=str(entry.get("description", "")),
        sessions=int(entry.get("sessions", 0)),
        app_writes_per_session=float(entry.get("app_writes_per_session", 0)),
        operations=dict(entry.get(f"per_{unit}", {})),
        invocations=dict(entry.get(f"invocations_per_{unit}", {})),
        mean_request_seconds=dict(entry.get("mean_request_seconds", {})),
    )


def parse_counts(data: Mapping[str, Any]) -> MeasuredCounts:
    """Build the counts from the file's JSON; raises `ConfigError` when a path is missing."""
    paths = {name: _path(name, entry) for name, entry in data.get("paths", {}).items()}
    missing = [name for name in (*REQUIRED_PATHS, ROUND_PATH) if name not in paths]
    if missing:
        raise ConfigError(
            "counts.json", f"lacks the path(s) {', '.join(missing)}: run bench.cost_bench"
        )
    return MeasuredCounts(
        measured_at=str(data.get("measured_at", "")),
        commit=str(data.get("commit", "")),
        document_bytes=dict(data.get("sample_document_bytes", {})),
        paths=paths,
        cpu=dict(data.get("cpu", {})),
    )


def load_counts(path: Path | None = None) -> MeasuredCounts:
    """The packaged counts, or the ones at `path`."""
    if path is None:
        text = resources.files("cli.cost").joinpath(COUNTS_FILE).read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return parse_counts(json.loads(text))
