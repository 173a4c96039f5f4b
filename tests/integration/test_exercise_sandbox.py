"""The sandbox of students' servers: a broken program is a failed check, never a broken lab.

A busy loop, a fork bomb, the wrong port and a crash at start each end as failed checks
within bounds, and the lab's own servers stay prompt meanwhile.
"""

from __future__ import annotations

import time

import pytest

from exercisekit import assert_the_runner_never_restarted_nor_logged_a_traceback, check, explain, put


BUSY = "while True:\n    pass\n"
FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
WRONG_PORT = ("from socket import *\ns = socket(AF_INET, SOCK_STREAM)\ns.bind(('', 9999))\ns.listen(5)\n"
              "while True:\n    s.accept()[0].close()\n")
CRASH = "raise SystemExit('cannot start: ' + 'x' * 3)\n"
ROUND_TRIPS = """\
import socket, time
for n in range(5):
    started = time.monotonic()
    with socket.create_connection(("tcp-server", 8888), timeout=10) as s:
        s.sendall(b"prompt %d\\n" % n)
        assert s.recv(1024).rstrip().endswith(b"] prompt %d" % n)
    print(round(time.monotonic() - started, 3))
"""


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
    # until the runner has started it (generous: the machine may be busy with other labs); as
    # nobody, because the runner's clean-up before a program kills every process it may
    busy = lab.exec("student-server", ["lab-probe", "--wait", "60", "tcp", "8888"], user="nobody", timeout=90)
    assert busy.ok, f"the busy server never started: {busy}"
    # five round trips with the lab's tcp-server, each timed inside the client host (the time
    # of a `docker exec` on a busy test machine is not the lab's to answer for)
    timed = lab.exec("client", ["python3", "-c", ROUND_TRIPS], timeout=30)
    assert timed.ok, timed
    times = [float(t) for t in timed.stdout.split()]
    assert len(times) == 5 and max(times) < 2.0, times


def test_the_runner_never_restarted_nor_logged_a_traceback(lab):
    """Last in this file: after every program above, the exercise runner is the one that started."""
    assert_the_runner_never_restarted_nor_logged_a_traceback(lab)
