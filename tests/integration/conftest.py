"""Shared fixture of the adapter tests: a counting Firestore client on a database of its own."""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from cli.local.stack import LocalStack
from shared.settings import Settings
from tests.integration.counting_firestore import CountingClient


@pytest.fixture
def client(
    local_stack: LocalStack, local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CountingClient]:
    """A client of a fresh database on the emulator, dropped after the test."""
    assert local_settings.firestore_emulator_host
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", local_settings.firestore_emulator_host)
    database = f"adapters-{uuid.uuid4().hex[:12]}"
    yield CountingClient(local_settings.project, database)
    url = (
        f"http://{local_settings.firestore_emulator_host}/emulator/v1/projects/"
        f"{local_settings.project}/databases/{database}/documents"
    )
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10):
        pass
