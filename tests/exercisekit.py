"""What the exercise tests share: a student's program put in a lab's workspace, and
``lab-check TASK --json`` run on the client host, exactly what the student runs.

The tests are in several files (test_exercises.py, test_exercise_mistakes_*.py,
test_exercise_sandbox.py) so that `make test`'s workers run them side by side, each file
in the lab its worker started.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from socklab.check.tasks import TASKS
from labharness import ROOT

EXERCISES = ROOT / "workspace" / "exercises"
SOLUTIONS = ROOT / "tests" / "exercises"


def put(lab, task: str, source: Path | str) -> None:
    """Make *source* the student's program of *task* in the lab's workspace."""
    text = source.read_text() if isinstance(source, Path) else source
    folder = lab.workspace / "exercises" / task
    folder.mkdir(parents=True, exist_ok=True)
    for path in (folder.parent, folder):
        path.chmod(0o777)           # the student (uid 1000) writes beside it, e.g. for --trace files
    target = folder / TASKS[task].program
    target.write_text(text)
    target.chmod(0o666)


def check(lab, task: str, *args: str, timeout: float = 240) -> tuple[dict[str, dict], object]:
    result = lab.exec("client", ["lab-check", task, "--json", *args], timeout=timeout)
    try:
        rows = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"lab-check printed no JSON:\n{result}")
    return {row["check"]: row for row in rows}, result


def failed(rows: dict[str, dict]) -> list[str]:
    return sorted(name for name, row in rows.items() if not row["passed"])


def explain(rows: dict[str, dict]) -> str:
    return "\n".join(f"{name}: {'PASS' if row['passed'] else 'FAIL'} {row['expected']} / {row['seen']}\n"
                     f"{row['output'][-800:]}" for name, row in rows.items())


def mistakes() -> list[tuple[str, Path]]:
    return [(task.name, path) for task in TASKS.values()
            for path in sorted((SOLUTIONS / task.name).glob("mistake_*.py"))]


def declared(path: Path, word: str) -> list[str]:
    m = re.search(rf"^# {word}: (.+)$", path.read_text(), re.M)
    return [name.strip() for name in m.group(1).split(",")] if m else []


def mistakes_of(tasks: list[str]) -> list[tuple[str, Path]]:
    return [(task, path) for task, path in mistakes() if task in tasks]


def mistake_id(value) -> str:
    """A mistake's test id: the file's name without .py (the task stays as it is)."""
    return value.stem if isinstance(value, Path) else value


def assert_the_mistake_fails_what_it_names(lab, task: str, path: Path) -> None:
    """*path* fails the checks its first lines name (``# fails: a, b``), passes those named
    ``# passes: c``, and lab-check exits 1."""
    must_fail, must_pass = declared(path, "fails"), declared(path, "passes")
    assert must_fail, f"{path.name} names no check it fails (# fails: ...)"
    put(lab, task, path)
    rows, result = check(lab, task)
    unknown = set(must_fail + must_pass) - set(rows)
    assert not unknown, f"{path.name} names checks that do not exist: {unknown}"
    assert set(must_fail) <= set(failed(rows)), explain(rows)
    assert not set(must_pass) & set(failed(rows)), explain(rows)
    assert result.exit_code == 1


def assert_the_runner_never_restarted_nor_logged_a_traceback(lab) -> None:
    """After every program run so far in this lab, the exercise runner is the one that started."""
    runner = lab.container("student-server")
    runner.reload()
    log = lab.logs("student-server")
    assert runner.attrs["RestartCount"] == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
