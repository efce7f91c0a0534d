"""Before any work in local mode: are the emulators a command needs answering?

A stopped local stack otherwise shows up as a gRPC `ServiceUnavailable` after a
while, or as a publish that waits 30 s for nothing. One TCP connect per emulator
(a few milliseconds when the stack runs) turns that into one line naming
`session-sync local up`.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

from cli.exits import LOCAL_UP, ActionableError
from shared.settings import Settings

CONNECT_SECONDS = 0.5
# What the operator commands talk to: sessions and failure records, the topic and the
# dead-letter subscription, the table and the view.
OPERATOR_EMULATORS = ("firestore", "pubsub", "bigquery")


def emulator_hosts(settings: Settings) -> dict[str, str | None]:
    """`host:port` of each emulator, by short name."""
    return {
        "firestore": settings.firestore_emulator_host,
        "pubsub": settings.pubsub_emulator_host,
        "bigquery": settings.bigquery_emulator_host,
        "tasks": settings.tasks_emulator_host,
    }


NAMES = {
    "firestore": "Firestore emulator",
    "pubsub": "Pub/Sub emulator",
    "bigquery": "BigQuery emulator",
    "tasks": "Cloud Tasks emulator",
}


def answers(address: str, timeout: float = CONNECT_SECONDS) -> bool:
    """True when something accepts a TCP connection at `host:port`."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def silent_emulators(settings: Settings, needed: Iterable[str]) -> list[str]:
    """`Name (host:port)` of each needed emulator that does not accept connections."""
    hosts = emulator_hosts(settings)
    return [
        f"{NAMES[name]} ({hosts[name]})"
        for name in needed
        if hosts[name] and not answers(hosts[name] or "")
    ]


def require_local_stack(settings: Settings, needed: Iterable[str] = OPERATOR_EMULATORS) -> None:
    """In local mode, raise `ActionableError` (exit 1) unless every needed emulator answers.

    Does nothing outside local mode.
    """
    if not settings.is_local:
        return
    silent = silent_emulators(settings, needed)
    if silent:
        raise ActionableError(
            f"the local stack is not running: nothing answers at {', '.join(silent)}", LOCAL_UP
        )
