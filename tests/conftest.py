"""Fixtures shared by every test folder: the local emulator stack for integration and e2e tests.

`local_stack` starts the stack once per session, or reuses one that is already
healthy (then leaves it running). A stack that cannot start fails every test
that needs it, naming the service and its log; nothing is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from shared.settings import Settings, load_settings

if TYPE_CHECKING:
    from cli.local.stack import LocalStack

REPO_ROOT = Path(__file__).resolve().parents[1]

# The test suite only ever talks to the local stack; an explicit setting still wins.
os.environ.setdefault("PIPELINE_MODE", "local")


@pytest.fixture(scope="session")
def local_settings() -> Settings:
    """The settings of the local stack (ports and names may be overridden by the environment)."""
    return load_settings()


@pytest.fixture(scope="session")
def local_stack(local_settings: Settings) -> Iterator[LocalStack]:
    """The running local stack with its resources; stopped at the end if this session started it."""
    from cli.local.errors import StackError
    from cli.local.stack import LocalStack

    stack = LocalStack(local_settings, root=REPO_ROOT)
    already_running = stack.status().healthy
    try:
        stack.up()
    except StackError as error:
        pytest.fail(f"the local stack did not start: {error}", pytrace=False)
    yield stack
    if not already_running:
        stack.down()


@pytest.fixture
def clean_stack(local_stack: LocalStack) -> LocalStack:
    """The local stack, emptied before the test: documents, table rows, backlogs, queued tasks."""
    local_stack.reset()
    return local_stack
