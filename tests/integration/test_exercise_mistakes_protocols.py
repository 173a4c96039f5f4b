"""Every typical mistake of the exercises on FTP, NNTP and e-mail (tasks 08-14) fails the check it names.

tests/exercises/<task>/mistake_*.py: each fails the checks its first lines name
(``# fails: a, b``) and passes those named ``# passes: c``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from socklab.check.tasks import TASKS
from exercisekit import (assert_the_runner_never_restarted_nor_logged_a_traceback, check, declared, explain,
                         failed, mistakes_of, put)

TASKS_HERE = [t for t in TASKS if t >= '08']


@pytest.mark.parametrize("task, path", mistakes_of(TASKS_HERE), ids=lambda v: v.stem if isinstance(v, Path) else v)
def test_a_typical_mistake_fails_the_check_that_names_it(lab, task, path):
    must_fail, must_pass = declared(path, "fails"), declared(path, "passes")
    assert must_fail, f"{path.name} names no check it fails (# fails: ...)"
    put(lab, task, path)
    rows, result = check(lab, task)
    unknown = set(must_fail + must_pass) - set(rows)
    assert not unknown, f"{path.name} names checks that do not exist: {unknown}"
    assert set(must_fail) <= set(failed(rows)), explain(rows)
    assert not set(must_pass) & set(failed(rows)), explain(rows)
    assert result.exit_code == 1


def test_the_runner_never_restarted_nor_logged_a_traceback(lab):
    """Last in this file: after every program above, the exercise runner is the one that started."""
    assert_the_runner_never_restarted_nor_logged_a_traceback(lab)
