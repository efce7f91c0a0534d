"""The canary's reserved names and the view's exclusion are one and the same prefix."""

from __future__ import annotations

import re

from cli.doctor.canary import CANARY_SESSION_PREFIX, CANARY_USER_ID, canary_key
from tests.conftest import REPO_ROOT


def test_the_view_excludes_exactly_the_canary_prefix() -> None:
    sql = (REPO_ROOT / "shared/sql/sessions_latest.sql").read_text()

    assert f"NOT STARTS_WITH(session_id, '{CANARY_SESSION_PREFIX}')" in sql


def test_canary_ids_are_reserved_and_valid_firestore_ids() -> None:
    key = canary_key()

    assert key.user_id == CANARY_USER_ID
    assert key.session_id.startswith(CANARY_SESSION_PREFIX)
    for part in key:
        assert "/" not in part
        assert not re.fullmatch(r"__.*__", part)
    assert canary_key() != key
