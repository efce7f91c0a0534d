"""Firestore indexes: what the pipeline's queries need, without taking away what others use."""

from __future__ import annotations

import pytest

from tests.terraform.hcl_config import Config, blocks, single_block, terraform_config

# Firestore's automatic single-field indexes at collection scope. A field override replaces
# them, so it must list them again or every other query on the field loses them.
INHERITED = {
    ("COLLECTION", "ASCENDING", None),
    ("COLLECTION", "DESCENDING", None),
    ("COLLECTION", None, "CONTAINS"),
}


@pytest.fixture(scope="module")
def config() -> Config:
    return terraform_config()


def configured_indexes(field: dict[str, object]) -> set[tuple[str, str | None, str | None]]:
    index_config = single_block(field, "index_config")  # type: ignore[arg-type]
    return {
        (index.get("query_scope", "COLLECTION"), index.get("order"), index.get("array_config"))
        for index in blocks(index_config, "indexes")
    }


def test_status_is_indexed_for_the_collection_group_query(config: Config) -> None:
    field = config.resource("google_firestore_field", "sessions_status")
    assert (field["collection"], field["field"]) == ("sessions", "status")
    assert ("COLLECTION_GROUP", "ASCENDING", None) in configured_indexes(field)


def test_every_field_override_keeps_the_inherited_indexes(config: Config) -> None:
    fields = config.of_type("google_firestore_field")
    assert fields, "the status override is expected here"
    for name, field in fields.items():
        missing = INHERITED - configured_indexes(field)
        assert not missing, f"{name} would take {sorted(missing, key=str)} away from other queries"


@pytest.mark.parametrize(
    "fields",
    [
        [("status", "ASCENDING"), ("nextRedriveAt", "ASCENDING")],
        [("status", "ASCENDING"), ("updatedAt", "ASCENDING")],
        [("status", "ASCENDING"), ("createdAt", "DESCENDING")],
    ],
    ids=lambda fields: "+".join(name for name, _ in fields),
)
def test_failure_records_have_their_composite_index(
    config: Config, fields: list[tuple[str, str]]
) -> None:
    indexes = [
        [(f["field_path"], f["order"]) for f in blocks(body, "fields")]
        for body in config.of_type("google_firestore_index").values()
        if body["collection"] == "bigquerySyncFailures"
        and body.get("query_scope", "COLLECTION") == "COLLECTION"
    ]
    assert any(index[: len(fields)] == fields for index in indexes), (
        f"no collection-scope index on bigquerySyncFailures starts with {fields}"
    )


def test_status_counts_sessions_by_sync_status_in_a_window_with_an_index(config: Config) -> None:
    """`session-sync status` counts completed sessions per bigquerySyncStatus by startTime."""
    wanted = [
        ("status", "ASCENDING"),
        ("bigquerySyncStatus", "ASCENDING"),
        ("startTime", "ASCENDING"),
    ]
    indexes = [
        [(f["field_path"], f["order"]) for f in blocks(body, "fields")]
        for body in config.of_type("google_firestore_index").values()
        if body["collection"] == "sessions" and body.get("query_scope") == "COLLECTION_GROUP"
    ]
    assert any(index[: len(wanted)] == wanted for index in indexes)
