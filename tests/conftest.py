"""Suite-wide settings: hypothesis profiles, markers by folder, and the integration count."""

from __future__ import annotations

import os

# The library is secure by default (production refuses the dev secret); tests run as
# development, as `make run` and `make stack` do. Set before any settings are built.
os.environ.setdefault("TASDIR_ENVIRONMENT", "development")

import pytest
from hypothesis import HealthCheck, settings

# The machines have 2 cores: CI caps the examples and lifts the deadline.
settings.register_profile(
    "ci", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))

_INTEGRATION = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.path)
        if "/tests/integration/" in path:
            item.add_marker(pytest.mark.integration)
        elif "/tests/e2e/" in path:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.e2e)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "integration" not in report.keywords:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        outcome = "skipped" if report.skipped else ("passed" if report.passed else "failed")
        _INTEGRATION[outcome] += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    counts = _INTEGRATION
    terminalreporter.write_line(
        "integration tests on real RabbitMQ, Redis and PostgreSQL: "
        f"{counts['passed']} ran and passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped"
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Under CI a skipped integration test is a failure: it would hide a missing service.
    if os.environ.get("CI") and _INTEGRATION["skipped"]:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
