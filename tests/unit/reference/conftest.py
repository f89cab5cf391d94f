"""Fixtures for the reference-data tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tasdir import reference


@pytest.fixture
def fresh_reference() -> Iterator[None]:
    """No file cached before or after the test."""
    reference.clear_caches()
    yield
    reference.clear_caches()
