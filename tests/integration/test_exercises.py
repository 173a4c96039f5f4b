"""The exercises and ``lab-check``, across the lab network, as a student meets them.

For every exercise in workspace/exercises/:

* the reference solution (tests/exercises/<task>/reference.py, never in the workspace)
  passes every check;
* the starter the student gets fails (it runs, but does not do the job yet);
* every typical mistake (tests/exercises/<task>/mistake_*.py) fails the checks its first
  lines name (``# fails: a, b``) and passes those named ``# passes: c``.

Each check runs ``lab-check TASK --json`` on the client host, exactly what the student runs.
"""

from __future__ import annotations

import json
import re
import time
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


@pytest.mark.parametrize("task, path", mistakes(), ids=lambda v: v.stem if isinstance(v, Path) else v)
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


BUSY = "while True:\n    pass\n"
FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
WRONG_PORT = ("from socket import *\ns = socket(AF_INET, SOCK_STREAM)\ns.bind(('', 9999))\ns.listen(5)\n"
              "while True:\n    s.accept()[0].close()\n")
CRASH = "raise SystemExit('cannot start: ' + 'x' * 3)\n"


@pytest.mark.parametrize("program, reason", [
    (BUSY, "bound no port"), (FORK_BOMB, "bound no port"), (WRONG_PORT, "9999"), (CRASH, "exit status 1"),
], ids=["busy-loop", "fork-bomb", "wrong-port", "crash-at-start"])
def test_a_broken_server_is_a_failed_check_and_the_lab_goes_on(lab, program, reason):
    put(lab, "01-tcp-server", program)
    started = time.monotonic()
    rows, result = check(lab, "01-tcp-server", timeout=120)
    took = time.monotonic() - started
    assert result.exit_code == 1, result
    assert all(not row["passed"] for row in rows.values()), explain(rows)
    assert any(reason in row["seen"] for row in rows.values()), explain(rows)
    assert took < 90, f"lab-check took {took:.0f} s"
    # the lab's own servers answered all along, and nothing of the program is left behind
    echo = lab.exec("client", ["tcp-client", "-m", "still here"], timeout=10)
    assert echo.ok and echo.stdout.strip().endswith("] still here"), echo
    left = lab.exec("student-server", ["ps", "-eo", "args"], user="socklab")
    assert left.ok and "server.py" not in left.stdout, left


def test_a_busy_student_server_leaves_the_reference_servers_prompt(lab):
    put(lab, "01-tcp-server", "import threading\n" + "def spin():\n    while True:\n        pass\n"
        "for _ in range(4):\n    threading.Thread(target=spin).start()\n"
        "from socket import *\ns = socket(AF_INET, SOCK_STREAM)\ns.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)\n"
        "s.bind(('', 8888))\ns.listen(5)\nspin()\n")
    lab.exec_background("client", ["lab-check", "01", "--json"])
    deadline = time.monotonic() + 60        # generous: the machine may be busy with other labs
    while time.monotonic() < deadline:      # wait until the runner has started it
        busy = lab.exec("student-server", ["lab-probe", "tcp", "8888"], user="socklab")
        if busy.ok:
            break
    assert busy.ok, "the busy server never started"
    for _n in range(5):
        started = time.monotonic()
        echo = lab.exec("client", ["tcp-client", "-m", "prompt"], timeout=10)
        assert echo.ok, echo
        assert time.monotonic() - started < 2.0


def test_the_runner_never_restarted_nor_logged_a_traceback(lab):
    """Last in this file: after every program above, the exercise runner is the one that started."""
    runner = lab.container("student-server")
    runner.reload()
    log = lab.logs("student-server")
    assert runner.attrs["RestartCount"] == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
