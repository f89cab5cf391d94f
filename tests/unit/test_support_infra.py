"""The test infrastructure says what is missing, and fails (never skips) under CI."""

from __future__ import annotations

import pytest
from support import infra


def test_a_missing_rabbitmqctl_fails_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception) as failed:
        infra.rabbitmqctl("list_vhosts")
    assert "rabbitmqctl is not on PATH" in str(failed.value)
    assert "vhost" in str(failed.value)


def test_an_unreachable_service_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must not skip"):
        infra.require("Nothing", "127.0.0.1", 9)
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        infra.require("Nothing", "127.0.0.1", 9)
