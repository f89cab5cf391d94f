"""Fixtures for the reference-data tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tasdir import reference


@pytest.fixture
def fresh_reference(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No FX override from the environment, and no file cached before or after the test."""
    monkeypatch.delenv(reference.FX_TABLE_ENV, raising=False)
    reference.clear_caches()
    yield
    reference.clear_caches()
