"""Every typical mistake of the exercises on sockets, socketserver and AF_UNIX (tasks 01-07) fails the check it names.

tests/exercises/<task>/mistake_*.py: each fails the checks its first lines name
(``# fails: a, b``) and passes those named ``# passes: c``.
"""

from __future__ import annotations

import pytest

from socklab.check.tasks import TASKS
from exercisekit import (assert_the_mistake_fails_what_it_names,
                         assert_the_runner_never_restarted_nor_logged_a_traceback, mistake_id, mistakes_of)

TASKS_HERE = [t for t in TASKS if t < "08"]


@pytest.mark.parametrize("task, path", mistakes_of(TASKS_HERE), ids=mistake_id)
def test_a_typical_mistake_fails_the_check_that_names_it(lab, task, path):
    assert_the_mistake_fails_what_it_names(lab, task, path)


def test_the_runner_never_restarted_nor_logged_a_traceback(lab):
    """Last in this file: after every program above, the exercise runner is the one that started."""
    assert_the_runner_never_restarted_nor_logged_a_traceback(lab)
