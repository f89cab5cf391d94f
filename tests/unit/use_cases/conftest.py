"""Use cases run on fakes: opening a database here is a mistake, and fails the test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a use-case unit test opened a database")

    monkeypatch.setattr("sqlalchemy.ext.asyncio.create_async_engine", refuse)
    monkeypatch.setattr("tasdir.db.engine.create_async_engine", refuse)
