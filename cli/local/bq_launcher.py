"""Start bqemulator without DuckDB's `spatial` extension, which it cannot download offline.

Runs with the bqemulator virtualenv's own Python (it imports nothing from this
project), e.g. `.tools/bqemulator/bin/python bq_launcher.py start --rest-port ...`.
Every argument goes unchanged to bqemulator's own command line. GEOGRAPHY
columns and `ST_*` functions are unavailable; the pipeline uses neither.
"""

from __future__ import annotations

import sys

from bqemulator.cli import main as bqemulator_main
from bqemulator.storage.engine import DuckDBEngine


def _skip_spatial(_engine: DuckDBEngine) -> None:
    """Stand in for `DuckDBEngine._load_spatial`: load nothing."""


if __name__ == "__main__":
    DuckDBEngine._load_spatial = _skip_spatial
    sys.exit(bqemulator_main(sys.argv[1:], prog_name="bqemulator"))
