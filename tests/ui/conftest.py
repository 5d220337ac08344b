"""Fixtures for the UI tests: the sample runs (ui_samples.py) in a real store (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from llmcompiler_provider.ui import create_standalone_app

from ui_samples import SeededStore, seed


@pytest.fixture(autouse=True)
def private_home(private_home) -> None:
    """Each test gets its own home folder and no store URL from the environment (tests/conftest.py)."""


@pytest.fixture
def seeded(store_url: str) -> SeededStore:
    """The sample runs saved in SQLite and, as a second parameter, in PostgreSQL."""
    return seed(store_url)


@pytest.fixture
def client(seeded: SeededStore) -> Iterator[TestClient]:
    with TestClient(create_standalone_app(seeded.url)) as test_client:
        yield test_client
