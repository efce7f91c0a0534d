"""A BigQuery edge for the failure paths: refuse inserts as BigQuery does when it is down."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from shared.errors import PipelineError, TransientError
from shared.ports import RowSink

UNAVAILABLE = "insert failed: BigQuery unavailable (benchmark outage)"


class OutageSink:
    """Delegates to the real sink unless told to fail: while `down`, every insert; once, the
    next insert of each session in `fail_once` (the transient failure one retry resolves).

    Refused rows never reach BigQuery, as during a real outage (and cost nothing).
    """

    def __init__(self, inner: RowSink) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.down = False
        self._fail_once: set[str] = set()

    def fail_next_insert_of(self, session_ids: set[str]) -> None:
        """Make the next insert of each of these sessions fail, once."""
        with self._lock:
            self._fail_once |= session_ids

    def insert(self, rows: Mapping[str, dict[str, Any]]) -> dict[str, PipelineError]:
        with self._lock:
            if self.down:
                failing = set(rows)
            else:
                failing = {i for i, row in rows.items() if row.get("session_id") in self._fail_once}
                self._fail_once -= {rows[i]["session_id"] for i in failing}
        passed = {i: row for i, row in rows.items() if i not in failing}
        errors: dict[str, PipelineError] = dict(self._inner.insert(passed)) if passed else {}
        errors.update({i: TransientError(UNAVAILABLE) for i in failing})
        return errors
