"""The pipeline harness over a freshly emptied local stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cli.local.stack import LocalStack
from tests.e2e.harness import Pipeline


@pytest.fixture
def pipeline(clean_stack: LocalStack) -> Pipeline:
    return Pipeline(clean_stack)


@pytest.fixture
def without_self_healing(pipeline: Pipeline) -> Iterator[Pipeline]:
    """The pipeline with its scheduler stopped: abandoned episodes stay abandoned until an
    operator acts (the situation the operator commands are for); restarted afterwards."""
    pipeline.stack.stop_service("scheduler")
    try:
        yield pipeline
    finally:
        pipeline.stack.up()
