"""Firestore: the database the pipeline reads and writes answers."""

from __future__ import annotations

from collections.abc import Iterator

from google.api_core import exceptions as gexc

from cli.doctor.context import Context
from cli.doctor.report import Check, fail, ok
from shared.gcp.firestore_failures import STATE_COLLECTION, STATE_DOCUMENT


def checks(ctx: Context) -> Iterator[Check]:
    yield ctx.run("Firestore", lambda: _database(ctx))


def _database(ctx: Context) -> Check:
    document = ctx.clients.firestore.collection(STATE_COLLECTION).document(STATE_DOCUMENT)
    try:
        state = document.get(timeout=20)
    except gexc.NotFound as error:
        return fail(
            "Firestore",
            f"no database (default) in project {ctx.expected.project} ({error.message})",
            "create the (default) database in Native mode (README, Deploy to GCP, Prerequisites)",
        )
    rounds = (state.to_dict() or {}).get("failedRounds", 0) if state.exists else 0
    return ok("Firestore", f"database (default) answers; redrive failed rounds in a row: {rounds}")
