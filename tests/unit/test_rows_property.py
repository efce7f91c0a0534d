"""Property: any document a client could write ends as a valid row or a PermanentError."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import PermanentError
from shared.pseudonym import Pseudonymizer
from shared.rows import SOURCES, session_row
from shared.schema import validate_row
from tests.unit.documents import SALT, SYNCED_AT, set_path

PSEUDONYMIZER = Pseudonymizer(SALT)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        ["12", "-3.5", "1e3", "NaN", "Infinity", "", "x" * 10_000, "y" * 1_000_000, "🏋️"]
    ),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=9))]) | st.none()),
    st.sampled_from(
        ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05.123456789+09:00", "0000-01-01T00:00:00Z"]
    ),
    st.fixed_dictionaries(
        {"seconds": st.integers(-(2**40), 2**40), "nanos": st.integers(-5, 2 * 10**9)}
    ),
    st.binary(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
paths = st.sampled_from([*sorted(SOURCES.values()), "sessionId", "formFeedback", "sessionMetadata"])
documents = st.lists(st.tuples(paths, values), max_size=12)
huge_arrays = st.just(["w"] * 1200) | st.lists(st.integers(), min_size=0, max_size=3)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(assignments=documents, warnings=huge_arrays)
def test_any_document_gives_a_valid_row_or_a_named_permanent_error(
    assignments: list[tuple[str, Any]], warnings: list[Any]
) -> None:
    document: dict[str, Any] = {
        "startTime": "2026-01-02T03:04:05Z",
        "createdAt": datetime(2026, 1, 1, tzinfo=UTC),
        "formFeedback": {"warnings": warnings},
    }
    for path, value in assignments:
        try:
            set_path(document, path, value)
        except (TypeError, AttributeError):
            continue  # a parent was already replaced by a non-map value
    try:
        row = session_row("u1", "s1", document, pseudonymizer=PSEUDONYMIZER, synced_at=SYNCED_AT)
    except PermanentError as error:
        assert error.field, "a PermanentError must name the field"
        return
    validate_row(row)
    json.dumps(row, allow_nan=False)
