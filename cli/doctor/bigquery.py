"""BigQuery: the dataset, the sessions table (columns, partitioning, clustering) and the view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.api_core import exceptions as gexc

from cli.doctor.context import Context, failed_read
from cli.doctor.report import Check, fail, ok, skip
from shared.model import CANARY_SESSION_PREFIX

# The API may spell a type by its standard SQL name.
_ALIASES = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "STRUCT": "RECORD"}
TIMEOUT = 30


def checks(ctx: Context) -> Iterator[Check]:
    yield ctx.run("dataset", lambda: _dataset(ctx))
    table_id = ctx.expected.settings.table_id
    try:
        table = ctx.once("table", lambda: ctx.clients.bigquery.get_table(table_id, timeout=TIMEOUT))
    except gexc.NotFound:
        yield fail(
            "table schema",
            f"{table_id} does not exist (BQ_TABLE): no row can be inserted",
            ctx.recreate_fix("the table", missing=True),
        )
        table = None
    except Exception as error:
        yield failed_read("table schema", error, local=ctx.local)
        table = None
    if table is None:
        yield skip("table partitioning", "no table to read")
        yield skip("table clustering", "no table to read")
    else:
        yield ctx.run("table schema", lambda: _schema(ctx, table))
        yield ctx.run("table partitioning", lambda: _partitioning(ctx, table))
        yield ctx.run("table clustering", lambda: _clustering(ctx, table))
    yield ctx.run("view", lambda: _view(ctx))


def _dataset(ctx: Context) -> Check:
    dataset_id = ctx.expected.dataset_id
    try:
        dataset = ctx.clients.bigquery.get_dataset(dataset_id, timeout=TIMEOUT)
    except gexc.NotFound:
        return fail(
            "dataset",
            f"{dataset_id} does not exist (BQ_DATASET)",
            ctx.recreate_fix("the dataset", missing=True),
        )
    wanted = ctx.expected.settings.bq_location
    if dataset.location and dataset.location.lower() != wanted.lower():
        return fail(
            "dataset",
            f"{dataset_id} is in {dataset.location}, BQ_LOCATION says {wanted}",
            "set BQ_LOCATION to the dataset's location (`terraform output -raw operator_env`)",
        )
    return ok("dataset", f"{dataset_id} in {dataset.location or wanted}")


def _column(field: dict[str, Any]) -> tuple[str, str]:
    kind = str(field.get("type", "")).upper()
    return _ALIASES.get(kind, kind), str(field.get("mode") or "NULLABLE").upper()


def _schema(ctx: Context, table: Any) -> Check:
    wanted = {c["name"]: _column(c) for c in ctx.expected.columns}
    found = {f["name"]: _column(f) for f in (field.to_api_repr() for field in table.schema)}
    problems = []
    missing = [name for name in wanted if name not in found]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    extra = [name for name in found if name not in wanted]
    if extra:
        problems.append(f"column(s) not in shared/schema.json: {', '.join(extra)}")
    for name, (kind, mode) in wanted.items():
        if name in found and found[name] != (kind, mode):
            problems.append(f"{name} is {' '.join(found[name])}, not {kind} {mode}")
    if problems:
        return fail(
            "table schema",
            f"{table.full_table_id or ctx.expected.settings.table_id}: {'; '.join(problems)}",
            ctx.recreate_fix("the table from shared/schema.json"),
        )
    return ok("table schema", f"the {len(wanted)} columns of shared/schema.json")


def _partitioning(ctx: Context, table: Any) -> Check:
    wanted = ctx.expected.partition_field
    partitioning = table.time_partitioning
    if partitioning is None or partitioning.field != wanted or partitioning.type_ != "DAY":
        found = (
            f"{partitioning.type_} on {partitioning.field or '_PARTITIONTIME'}"
            if partitioning
            else "none"
        )
        return fail(
            "table partitioning",
            f"{found}, not DAY on {wanted}: queries by start time scan the whole table",
            ctx.recreate_fix("the table (partitioning cannot change in place: copy the rows)"),
        )
    return ok("table partitioning", f"DAY on {wanted}")


def _clustering(ctx: Context, table: Any) -> Check:
    wanted = list(ctx.expected.clustering_fields)
    found = list(table.clustering_fields or [])
    if found != wanted:
        return fail(
            "table clustering",
            f"{', '.join(found) or 'none'}, not {', '.join(wanted)}",
            ctx.recreate_fix("the table's clustering"),
        )
    return ok("table clustering", ", ".join(wanted))


def _view(ctx: Context) -> Check:
    settings = ctx.expected.settings
    view_id = settings.latest_view_id
    try:
        view = ctx.clients.bigquery.get_table(view_id, timeout=TIMEOUT)
    except gexc.NotFound:
        return fail(
            "view",
            f"{view_id} does not exist (BQ_LATEST_VIEW): analysts and reconcile have nothing"
            " to read",
            ctx.recreate_fix("the view", missing=True),
        )
    if view.table_type != "VIEW":
        return fail(
            "view", f"{view_id} is a {view.table_type}, not a VIEW", ctx.recreate_fix("the view")
        )
    if view.view_query is not None:
        if _words(view.view_query) != _words(ctx.expected.view_sql):
            return fail(
                "view",
                f"{view_id}'s SQL is not shared/sql/sessions_latest.sql as rendered for"
                f" {settings.table_id}",
                ctx.recreate_fix("the view"),
            )
        return ok("view", f"{view_id} is shared/sql/sessions_latest.sql over {settings.table_id}")
    return _view_by_result(ctx, view_id)


def _view_by_result(ctx: Context, view_id: str) -> Check:
    """Where the API does not return a view's SQL (the emulator), check what it returns:
    the table's columns, one row per session, no canary session."""
    table_id = ctx.expected.settings.table_id
    client = ctx.clients.bigquery
    columns = [
        field.name
        for field in client.query(f"SELECT * FROM `{view_id}` LIMIT 0")
        .result(timeout=TIMEOUT)
        .schema
    ]
    wanted = [column["name"] for column in ctx.expected.columns]
    counts = next(
        iter(
            client.query(
                f"SELECT (SELECT COUNT(*) FROM `{view_id}`) AS view_rows,"
                " (SELECT COUNT(*) FROM (SELECT DISTINCT user_id_hash, session_id"
                f" FROM `{table_id}` WHERE NOT STARTS_WITH(session_id, @prefix))) AS sessions",
                job_config=_prefix_parameter(),
            ).result(timeout=TIMEOUT)
        )
    )
    problems = []
    lacking = [name for name in wanted if name not in columns]
    extra = [name for name in columns if name not in wanted]
    if lacking:
        problems.append(f"lacks column(s) {', '.join(lacking)} of shared/schema.json")
    if extra:
        problems.append(f"returns column(s) not in shared/schema.json: {', '.join(extra)}")
    if counts["view_rows"] != counts["sessions"]:
        problems.append(
            f"returns {counts['view_rows']} rows for {counts['sessions']} sessions (canary"
            " sessions excluded)"
        )
    if problems:
        return fail(
            "view",
            f"{view_id} does not behave as shared/sql/sessions_latest.sql: {'; '.join(problems)}",
            ctx.recreate_fix("the view"),
        )
    return ok(
        "view",
        f"{view_id}: the table's columns, one row per session ({counts['sessions']}), no canary"
        " (the emulator does not return a view's SQL: checked by its result)",
    )


def _prefix_parameter() -> Any:
    from google.cloud import bigquery

    return bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("prefix", "STRING", CANARY_SESSION_PREFIX)]
    )


def _words(sql: str) -> str:
    return " ".join(sql.split())
