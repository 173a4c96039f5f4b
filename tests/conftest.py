"""Shared test setup: the tests directory is importable (tests/labharness.py, ...)."""

import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import labpool  # noqa: E402  (importable once the line above has run)

POOL = pytest.StashKey()


def pytest_configure(config):
    """The run's lab pool (tests/labpool.py): made by the first process, before make test's
    worker processes start, which find it through the environment they inherit."""
    if hasattr(config, "workerinput"):
        return
    folder = tempfile.mkdtemp(prefix="socklab-labs-")
    os.environ[labpool.ENV] = folder
    config.stash[POOL] = labpool.LabPool(Path(folder))


def pytest_unconfigure(config):
    """Every lab of the pool removed, once every worker process has ended."""
    pool = config.stash.get(POOL, None)
    if pool is not None:
        pool.close_all()


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


# The longest test files, longest first (seen in `--durations` of whole runs): they start
# first, so that under `make test`'s workers (``--dist loadfile --no-loadscope-reorder``:
# files handed out in collection order; without that flag pytest-xdist re-sorts them by
# their number of tests) the short files fill the gaps instead of one long file ending the run.
LONGEST_FIRST = ["test_bench_smoke.py", "test_chaos_smoke.py", "test_exercise_mistakes_sockets.py",
                 "test_lab_lifecycle.py", "test_mail.py", "test_exercises.py", "test_k8s_podman.py",
                 "test_classroom_class.py", "test_exercise_sandbox.py", "test_ftp_bulk_move.py",
                 "test_exercise_mistakes_protocols.py", "test_base_from_registry.py", "test_impair_lab.py",
                 "test_ftp_lab.py", "test_guides.py"]


def pytest_collection_modifyitems(items):
    """Put the files of :data:`LONGEST_FIRST` first, in that order; the rest keep theirs."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))   # a stable sort
