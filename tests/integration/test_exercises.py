"""The exercises and ``lab-check``, across the lab network, as a student meets them.

For every exercise in workspace/exercises/:

* the reference solution (tests/exercises/<task>/reference.py, never in the workspace)
  passes every check;
* the starter the student gets fails (it runs, but does not do the job yet);
* every typical mistake (tests/exercises/<task>/mistake_*.py) fails the checks its first
  lines name (``# fails: a, b``) and passes those named ``# passes: c``.

Each check runs ``lab-check TASK --json`` on the client host, exactly what the student runs
(tests/exercisekit.py).  Here: the exercises' files, references, starters and the report;
the typical mistakes are in test_exercise_mistakes_*.py, the sandbox in test_exercise_sandbox.py.
"""

from __future__ import annotations

import json
import re

import pytest

from socklab.check.tasks import TASKS
from exercisekit import (EXERCISES, SOLUTIONS, assert_the_runner_never_restarted_nor_logged_a_traceback,
                         check, explain, failed, put)


def test_every_exercise_has_a_task_a_starter_and_a_reference():
    folders = sorted(p.name for p in EXERCISES.iterdir() if p.is_dir())
    assert folders == list(TASKS), "workspace/exercises and socklab/check/tasks disagree"
    for name, task in TASKS.items():
        files = sorted(p.name for p in (EXERCISES / name).iterdir())
        assert files == sorted(["README.md", task.program]), f"{name}: exactly one program and a README"
        assert (SOLUTIONS / name / "reference.py").is_file(), f"{name} has no reference solution"
        readme = (EXERCISES / name / "README.md").read_text()
        chinese, _, english = readme.partition("\n---\n")
        assert re.search(r"[\u4e00-\u9fff]", chinese) and english.strip(), f"{name}: README in Chinese, then English"
        for part in (chinese, english):
            assert task.section in part and task.program in part and f"lab-check {name[:2]}" in part, name


@pytest.mark.parametrize("task", list(TASKS))
def test_reference_passes_every_check(lab, task):
    put(lab, task, SOLUTIONS / task / "reference.py")
    rows, result = check(lab, task)
    assert not failed(rows), explain(rows)
    assert result.exit_code == 0, result
    assert len(rows) == len(TASKS[task].checks())


@pytest.mark.parametrize("task", list(TASKS))
def test_the_starter_fails(lab, task):
    put(lab, task, EXERCISES / task / TASKS[task].program)
    rows, result = check(lab, task)
    assert failed(rows), f"the starter of {task} passes every check: it must not do the job yet\n" + explain(rows)
    assert result.exit_code == 1, result


# ---------------------------------------------------------------- the report and the sandbox

def test_report_results_json_and_junit(lab):
    put(lab, "01-tcp-server", SOLUTIONS / "01-tcp-server" / "mistake_one_client.py")
    result = lab.exec("client", ["lab-check", "01", "--lang", "en"])
    assert result.exit_code == 1, result
    assert re.search(r"^  PASS  several messages", result.stdout, re.M), result
    assert re.search(r"^  FAIL  a second client", result.stdout, re.M), result
    assert "hint:" in result.stdout and "1.3.3" in result.stdout, result
    saved = json.loads((lab.workspace / ".check" / "results.json").read_text())
    rows = [r for r in saved["results"] if r["task"] == "01-tcp-server"]
    assert {r["check"]: r["pass"] for r in rows}["second_client"] is False
    assert all({"task", "check", "pass", "message", "time"} <= set(r) for r in rows)
    junit = (lab.workspace / ".check" / "junit.xml").read_text()
    assert '<testsuite name="01-tcp-server"' in junit and "<failure" in junit

    zh = lab.exec("client", ["lab-check", "01", "--lang", "zh"])
    assert zh.exit_code == 1
    assert re.search(r"[\u4e00-\u9fff]", zh.stdout), zh


def test_an_unknown_task_is_a_usage_error(lab):
    result = lab.exec("client", ["lab-check", "99-nothing"])
    assert result.exit_code == 2 and "01-tcp-server" in result.stderr, result
    assert "Traceback" not in result.stderr


def test_the_runner_never_restarted_nor_logged_a_traceback(lab):
    """Last in this file: after every program above, the exercise runner is the one that started."""
    assert_the_runner_never_restarted_nor_logged_a_traceback(lab)
