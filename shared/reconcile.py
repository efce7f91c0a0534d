"""Compare completed sessions in Firestore with `sessions_latest`.

The merge (`compare`) is pure; `firestore_entries` and `bigquery_entries` feed
it from the ports, streaming both sides.

Both sides are reduced to one small entry per session, keyed by
(user_id_hash, session_id), and merged in key order:

- **missing**: a completed session with no row in `sessions_latest`;
- **stale**: the newest row differs from the row the current document would
  produce (`shared.rows.session_row`), `synced_at` aside: the document changed
  after its last synced version;
- **unexpected**: a row with no completed session behind it (deleted, or no
  longer completed);
- **invalid**: a completed session whose document cannot become a row, recorded
  as such by the pipeline (status `invalid` and a record in
  `bigquerySyncFailures`), so no row is due;
- **unrecorded**: the same, but nothing recorded it (its completion never
  reached the pipeline); a replay makes the pipeline record it;
- **in flight**: a difference explained by work still under way (see `Freshness`).

Only missing, stale, unexpected and unrecorded make the data inconsistent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import astuple, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.external_sort import DEFAULT_RUN_SIZE, sorted_stream
from shared.fingerprint import document_fingerprint, row_fingerprint
from shared.model import CANARY_SESSION_PREFIX, SessionKey, SessionSnapshot, SyncStatus
from shared.ports import RowReader, SessionStore
from shared.pseudonym import Pseudonymizer

# Sync statuses of a session the pipeline is still working on.
_UNDER_WAY = frozenset({None, SyncStatus.FAILED.value})

Key = tuple[str, str]


class Finding(StrEnum):
    OK = "ok"
    MISSING = "missing"
    STALE = "stale"
    UNEXPECTED = "unexpected"
    INVALID = "invalid"
    UNRECORDED = "unrecorded"
    IN_FLIGHT = "in_flight"


INCONSISTENT = (Finding.MISSING, Finding.STALE, Finding.UNEXPECTED, Finding.UNRECORDED)
REPAIRABLE = (Finding.MISSING, Finding.STALE, Finding.UNRECORDED)


@dataclass(frozen=True)
class FirestoreEntry:
    """What reconcile keeps of one completed session (a few hundred bytes)."""

    user_id_hash: str
    session_id: str
    user_id: str
    fingerprint: str | None  # None: the document cannot become a row
    sync_status: str | None
    updated: float | None  # the document's last write, in epoch seconds

    @property
    def key(self) -> Key:
        return (self.user_id_hash, self.session_id)

    def dump(self) -> str:
        """One JSON line (for spilling to disk during the sort)."""
        return json.dumps(astuple(self), ensure_ascii=False)

    @classmethod
    def load(cls, line: str) -> FirestoreEntry:
        return cls(*json.loads(line))


@dataclass(frozen=True)
class BigQueryEntry:
    """What reconcile keeps of one `sessions_latest` row."""

    user_id_hash: str
    session_id: str
    fingerprint: str
    synced: float | None  # `synced_at` in epoch seconds

    @property
    def key(self) -> Key:
        return (self.user_id_hash, self.session_id)


@dataclass(frozen=True)
class Comparison:
    """The verdict on one session; `user_id` is unknown for a row found only in BigQuery."""

    finding: Finding
    user_id_hash: str
    session_id: str
    user_id: str | None = None
    sync_status: str | None = None  # the session's, when Firestore had it

    @property
    def session_key(self) -> SessionKey | None:
        return SessionKey(self.user_id, self.session_id) if self.user_id is not None else None

    def to_json(self) -> dict[str, Any]:
        return {
            "finding": self.finding.value,
            "user_id": self.user_id,
            "session_id": self.session_id,
            "user_id_hash": self.user_id_hash,
        }


@dataclass(frozen=True)
class Freshness:
    """Which differences are work in flight rather than inconsistencies.

    `started` is when the check began (epoch seconds). A session whose document
    was written after that changed during the check; a not-yet-synced session
    (no status, or `failed`) written less than `grace` seconds before it is
    still on its way; a BigQuery-only row synced after it belongs to a session
    the Firestore scan may have passed before it completed.
    """

    started: float
    grace: float

    def firestore_in_flight(self, entry: FirestoreEntry) -> bool:
        if entry.updated is None:
            return False
        if entry.updated >= self.started:
            return True
        return entry.sync_status in _UNDER_WAY and entry.updated > self.started - self.grace

    def bigquery_in_flight(self, entry: BigQueryEntry) -> bool:
        return entry.synced is not None and entry.synced >= self.started


def firestore_entry(snapshot: SessionSnapshot, pseudonymizer: Pseudonymizer) -> FirestoreEntry:
    """Reduce one completed session document to its entry."""
    key = snapshot.key
    status = snapshot.sync_status
    return FirestoreEntry(
        user_id_hash=pseudonymizer.user_id_hash(key.user_id),
        session_id=key.session_id,
        user_id=key.user_id,
        fingerprint=document_fingerprint(snapshot, pseudonymizer),
        sync_status=status if isinstance(status, str) else None,
        updated=snapshot.update_time.timestamp() if snapshot.update_time else None,
    )


def bigquery_entry(row: Mapping[str, Any]) -> BigQueryEntry:
    """Reduce one `sessions_latest` row to its entry."""
    synced = row.get("synced_at")
    return BigQueryEntry(
        user_id_hash=str(row["user_id_hash"]),
        session_id=str(row["session_id"]),
        fingerprint=row_fingerprint(row),
        synced=synced.timestamp() if isinstance(synced, datetime) else None,
    )


def compare(
    firestore: Iterable[FirestoreEntry],
    bigquery: Iterable[BigQueryEntry],
    *,
    freshness: Freshness,
) -> Iterator[Comparison]:
    """Merge two streams sorted by (user_id_hash, session_id); one comparison per session.

    Memory: one entry of each side at a time. Raises `ValueError` when a
    stream is not in strictly increasing key order (the merge would be wrong).
    """
    left = _ordered(firestore, "Firestore")
    right = _ordered(bigquery, "BigQuery")
    mine, theirs = next(left, None), next(right, None)
    while mine is not None or theirs is not None:
        if theirs is None or (mine is not None and mine.key < theirs.key):
            assert mine is not None
            yield _firestore_only(mine, freshness)
            mine = next(left, None)
        elif mine is None or theirs.key < mine.key:
            yield _bigquery_only(theirs, freshness)
            theirs = next(right, None)
        else:
            yield _both(mine, theirs, freshness)
            mine, theirs = next(left, None), next(right, None)


def _firestore_only(entry: FirestoreEntry, freshness: Freshness) -> Comparison:
    if entry.fingerprint is None:
        finding = _invalid(entry, freshness)
    elif freshness.firestore_in_flight(entry):
        finding = Finding.IN_FLIGHT
    else:
        finding = Finding.MISSING
    return Comparison(
        finding, entry.user_id_hash, entry.session_id, entry.user_id, entry.sync_status
    )


def _bigquery_only(entry: BigQueryEntry, freshness: Freshness) -> Comparison:
    finding = Finding.IN_FLIGHT if freshness.bigquery_in_flight(entry) else Finding.UNEXPECTED
    return Comparison(finding, entry.user_id_hash, entry.session_id)


def _both(mine: FirestoreEntry, theirs: BigQueryEntry, freshness: Freshness) -> Comparison:
    if mine.fingerprint is None:
        finding = _invalid(mine, freshness)
    elif mine.fingerprint == theirs.fingerprint:
        finding = Finding.OK
    elif freshness.firestore_in_flight(mine):
        finding = Finding.IN_FLIGHT
    else:
        finding = Finding.STALE
    return Comparison(finding, mine.user_id_hash, mine.session_id, mine.user_id, mine.sync_status)


def _invalid(entry: FirestoreEntry, freshness: Freshness) -> Finding:
    """An invalid document is fine once the pipeline recorded it; else it was never seen."""
    if entry.sync_status == SyncStatus.INVALID.value:
        return Finding.INVALID
    if freshness.firestore_in_flight(entry):
        return Finding.IN_FLIGHT
    return Finding.UNRECORDED


def _ordered(
    entries: Iterable[FirestoreEntry] | Iterable[BigQueryEntry], side: str
) -> Iterator[Any]:
    previous: Key | None = None
    for entry in entries:
        if previous is not None and entry.key <= previous:
            raise ValueError(
                f"{side} entries are not in (user_id_hash, session_id) order:"
                f" {entry.key[0][:12]}.../{entry.key[1]} after {previous[0][:12]}.../{previous[1]}"
            )
        previous = entry.key
        yield entry


def firestore_entries(
    sessions: SessionStore,
    pseudonymizer: Pseudonymizer,
    *,
    since: datetime | None,
    until: datetime | None,
    page_size: int,
    run_size: int = DEFAULT_RUN_SIZE,
    on_read: Callable[[], None] | None = None,
) -> Iterator[FirestoreEntry]:
    """The completed sessions of the window as entries, sorted by key.

    At most `run_size` entries in memory; the rest spills to a private
    temporary folder. `on_read` is called once per document read (progress).
    """

    def entries() -> Iterator[FirestoreEntry]:
        for snapshot, _ in sessions.completed_sessions(
            since=since, until=until, page_size=page_size
        ):
            if on_read is not None:
                on_read()
            if not snapshot.key.session_id.startswith(CANARY_SESSION_PREFIX):  # the view's rule
                yield firestore_entry(snapshot, pseudonymizer)

    return sorted_stream(
        entries(),
        key=lambda entry: entry.key,
        dump=FirestoreEntry.dump,
        load=FirestoreEntry.load,
        run_size=run_size,
    )


def bigquery_entries(
    rows: RowReader, *, since: datetime | None, until: datetime | None
) -> Iterator[BigQueryEntry]:
    """The newest row of each session of the window as entries, in key order."""
    return (bigquery_entry(row) for row in rows.latest_rows(since=since, until=until))
