"""Integration tests: the whole lab of compose.yaml, one lab for all the tests of a file.

Every test here talks to real servers across the lab network, usually by running a client
command inside the ``client`` container.  The lab is started as ``make lab`` starts it
(tools/lab.py, see tests/labharness.py), under a name, port block and workspace of its own.
Without a Docker engine these tests fail -- they are never skipped, because a skipped check
is a check that cannot fail.  When a test that uses the lab fails, the report shows the last
lines of every host's log.
"""


import pytest
from labharness import Lab, need_docker
from labpool import LabPool


def pytest_collection_modifyitems(items):
    """Mark the integration tests.  (make test runs them with ``-n N --dist loadfile``: each
    file's tests on one worker, where they share the file's fixtures.)"""
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="module")
def lab():
    """A lab of the run's pool (tests/labpool.py), this file's alone while its tests run: it
    may have served other files before (as one worker's lab serves the files it runs)."""
    need_docker()
    with LabPool.of_this_run().lease() as leased:
        yield leased


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    started = item.funcargs.get("lab") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(started, Lab):
        try:
            report.sections.append(("the lab's hosts, last log lines", started.all_logs()))
        except Exception as exc:        # the report must not fail for want of logs
            report.sections.append(("the lab's hosts", f"no logs: {exc}"))
