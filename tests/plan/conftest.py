"""Fixtures of the compiler tests."""

from __future__ import annotations

import pytest
from plan_catalogue import CATALOGUE

from llmcompiler_provider.plan.signature import ToolSignature


@pytest.fixture
def catalogue() -> dict[str, ToolSignature]:
    return dict(CATALOGUE)
