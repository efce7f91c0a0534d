"""Write the measured counts where `session-sync cost` reads them (cli/cost/counts.json)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cost_paths import PathCount
from bench.ops import per_session
from bench.worker_cpu import CpuFigure
from cli.cost import operations as op
from cli.sample_data import completed, generate_sessions

COUNTS_FILE = Path(__file__).resolve().parents[1] / "cli" / "cost" / "counts.json"
SAMPLE_DOCUMENTS = 200


def _firestore_json(value: Any) -> Any:
    """JSON for a Firestore value as the extension serializes it (timestamps as seconds)."""
    if isinstance(value, datetime):
        return {"_seconds": int(value.timestamp()), "_nanoseconds": value.microsecond * 1000}
    raise TypeError(f"unexpected {type(value).__name__}")


def sample_document_bytes() -> dict[str, float]:
    """Mean JSON size of generated session documents, active and completed."""
    sessions = list(generate_sessions(SAMPLE_DOCUMENTS, seed=31))

    def size(document: dict[str, Any]) -> int:
        return len(json.dumps(document, default=_firestore_json).encode("utf-8"))

    return {
        "active": sum(size(s.document) for s in sessions) / len(sessions),
        "completed": sum(size(completed(s.document)) for s in sessions) / len(sessions),
    }


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 4) for key, value in sorted(values.items())}


def path_entry(count: PathCount) -> dict[str, Any]:
    """One path as stored: per session (or per round when it synced none)."""
    unit = "session" if count.sessions else "round"
    totals = count.totals
    seconds = {
        actor: counts[op.REQUEST_SECONDS] / counts[op.INVOCATIONS]
        for actor, counts in count.by_actor.items()
        if counts.get(op.INVOCATIONS)
    }
    return {
        "description": count.description,
        "sessions": count.sessions,
        "app_writes_per_session": count.app_writes,
        f"per_{unit}": _rounded(per_session(totals, max(count.sessions, 1))),
        f"invocations_per_{unit}": _rounded(count.invocations()),
        "mean_request_seconds": _rounded(seconds),
    }


def cpu_entry(figures: Sequence[CpuFigure]) -> dict[str, Any]:
    """CPU µs per session by mode and batch size, with the batches actually seen."""
    entry: dict[str, Any] = {}
    for figure in figures:
        entry.setdefault(figure.mode, {})[str(figure.batch_size)] = {
            "us_per_session": round(figure.micros_per_session, 1),
            "sessions": figure.sessions,
            "mean_batch": round(figure.mean_batch, 2)
            if figure.mean_batch == figure.mean_batch
            else None,
        }
    return entry


def write_counts(
    paths: Sequence[PathCount], figures: Sequence[CpuFigure], target: Path = COUNTS_FILE
) -> Path:
    """Write the counts file, stamped with today's date and the commit measured."""
    previous: dict[str, Any] = json.loads(target.read_text()) if target.exists() else {}
    document = {
        "about": (
            "Operations per session measured on the local stack by"
            " `python -m bench.cost_bench --write-counts`; read by `session-sync cost`."
        ),
        "measured_at": datetime.now(UTC).date().isoformat(),
        "commit": _commit(),
        "sample_document_bytes": _rounded(sample_document_bytes()),
        "paths": {**previous.get("paths", {}), **{c.path: path_entry(c) for c in paths}},
        "cpu": cpu_entry(figures) if figures else previous.get("cpu", {}),
    }
    target.write_text(json.dumps(document, indent=2) + "\n")
    return target
