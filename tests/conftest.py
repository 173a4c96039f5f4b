"""Shared test setup: the tests directory is importable (tests/labharness.py, ...)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _printable(text: str) -> str:
    """Text as UTF-8 can carry it: undecodable bytes a server logged (surrogate escapes) as \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Captured output goes into the report as it can be sent: make test runs tests in worker
    processes (pytest-xdist), whose reports travel as UTF-8, and the servers under test log
    the junk they are sent as it came."""
    outcome = yield
    report = outcome.get_result()
    report.sections = [(title, _printable(content)) for title, content in report.sections]
    if isinstance(report.longrepr, str):
        report.longrepr = _printable(report.longrepr)
