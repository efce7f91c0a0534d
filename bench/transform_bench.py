"""Micro-benchmark: µs per row for transform + validate + hash over generated documents.

Prints figures only; asserts nothing about time. Usage: python -m bench.transform_bench [N]
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

from cli.sample_data import completed, generate_sessions
from shared.pseudonym import Pseudonymizer
from shared.rows import session_row


def main(count: int) -> None:
    sessions = [(s.user_id, s.session_id, completed(s.document)) for s in generate_sessions(count)]
    pseudonymizer = Pseudonymizer("benchmark-salt-0123456789-0123456789")
    synced_at = datetime.now(UTC)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for user_id, session_id, document in sessions:
            session_row(
                user_id, session_id, document, pseudonymizer=pseudonymizer, synced_at=synced_at
            )
        best = min(best, time.perf_counter() - started)
    print(
        f"transform+validate+hash: {count} documents, best of 3: {best:.3f} s, "
        f"{best / count * 1e6:.2f} µs/row, {count / best:,.0f} rows/s"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
