"""The pipeline harness over a freshly emptied local stack."""

from __future__ import annotations

import pytest

from cli.local.stack import LocalStack
from tests.e2e.harness import Pipeline


@pytest.fixture
def pipeline(clean_stack: LocalStack) -> Pipeline:
    return Pipeline(clean_stack)
