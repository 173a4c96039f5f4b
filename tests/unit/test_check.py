"""lab-check's pieces without Docker: the runner, the address redirect, the report, task selection."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from socklab.check import report
from socklab.check.cli import select
from socklab.check.framework import Result, Sandbox
from socklab.check.runner import Output, Program, Runner, listening
from tools.ports import free_port


@pytest.fixture
def runner(tmp_path):
    (tmp_path / "exercises" / "01-tcp-server").mkdir(parents=True)
    r = Runner(port=0, workspace=tmp_path, sweep=False)
    thread = threading.Thread(target=r.serve_forever, daemon=True)
    thread.start()
    yield r, Sandbox("127.0.0.1", r.sock.getsockname()[1]), tmp_path / "exercises" / "01-tcp-server"
    r.shutdown()
    thread.join(5)
    r.server_close()


def test_runner_starts_a_program_reports_its_port_and_output_then_stops_it(runner):
    r, sandbox, folder = runner
    (folder / "server.py").write_text(
        "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\n"
        "print('port', s.getsockname()[1])\nwhile True:\n    time.sleep(1)\n")
    started = sandbox.start("01-tcp-server", "server.py")
    assert started["running"]
    deadline = time.monotonic() + 10
    while "port" not in sandbox.status()["output"]:
        assert time.monotonic() < deadline, sandbox.status()
        time.sleep(0.05)
    port = int(sandbox.status()["output"].split()[1])
    assert ["tcp", port] in sandbox.status()["listening"]
    stopped = sandbox.stop()
    assert not stopped["running"] and stopped["killed_for"] == "stopped by the checker"


def test_runner_kills_a_program_at_its_time_limit(runner):
    r, sandbox, folder = runner
    (folder / "server.py").write_text("while True:\n    pass\n")
    sandbox.call(op="start", path="exercises/01-tcp-server/server.py", seconds=0.5)
    deadline = time.monotonic() + 10
    while sandbox.status()["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert sandbox.status()["killed_for"] == "time limit reached"


def test_runner_refuses_paths_outside_the_exercises_and_keeps_serving(runner):
    r, sandbox, folder = runner
    for path in ("../../etc/passwd", "exercises/../secret.py", "exercises/01-tcp-server/missing.py"):
        with pytest.raises(Exception) as failure:
            sandbox.call(op="start", path=path)
        assert "not a program of the exercises" in str(failure.value.seen) or "no such file" in str(failure.value.seen)
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5) as s:
        s.sendall(b"this is not json\n")
        assert json.loads(s.makefile().readline())["ok"] is False
    assert sandbox.status()["ok"]


def test_a_program_that_crashes_at_start_is_explained(runner):
    r, sandbox, folder = runner
    (folder / "server.py").write_text("print('about to fail')\nraise SystemExit('no')\n")
    for _ in range(5):          # what it printed last is there, though it ended before the runner read it
        sandbox.start("01-tcp-server", "server.py")
        with pytest.raises(Exception) as failure:
            sandbox.wait_listening("tcp", 8888, timeout=5)
        assert "exit status 1" in failure.value.seen and failure.value.output == "about to fail\nno\n"


SERVER = """import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', {port}))
s.listen()
while True:
    c, _ = s.accept()
    while data := c.recv(100):
        c.sendall(data)
    {after}
"""


def serve_one_client(sandbox, folder, after: str) -> None:
    """Start an echo server that does *after* when its client leaves; be its client once."""
    port = free_port()
    (folder / "server.py").write_text(SERVER.format(port=port, after=after))
    sandbox.start("01-tcp-server", "server.py")
    sandbox.wait_listening("tcp", port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(b"hello")
        assert c.recv(100) == b"hello"


def test_a_server_that_ends_after_its_first_client_has_ended_when_the_next_check_begins(runner):
    r, sandbox, folder = runner
    for _ in range(5):          # the server ends only after reading the goodbye: a race without the wait
        serve_one_client(sandbox, folder, after="sum(range(3_000_000)); sys.exit(3)")  # busy, then ends
        st = sandbox.wait_idle(timeout=10)
        assert not st["running"] and st["returncode"] == 3, st


def test_a_server_back_in_accept_is_idle_one_that_keeps_the_closed_connection_is_not(runner):
    r, sandbox, folder = runner
    serve_one_client(sandbox, folder, after="c.close()")
    st = sandbox.wait_idle(timeout=10)
    assert st["running"] and st["idle"], st
    serve_one_client(sandbox, folder, after="time.sleep(60)")   # never closes c: CLOSE_WAIT
    started = time.monotonic()
    st = sandbox.wait_idle(timeout=1)
    assert st["running"] and not st["idle"] and time.monotonic() - started >= 1, st


def test_a_busy_program_is_never_idle(runner):
    r, sandbox, folder = runner
    (folder / "server.py").write_text("print('spinning')\nwhile True:\n    pass\n")
    sandbox.start("01-tcp-server", "server.py")
    deadline = time.monotonic() + 10
    while "spinning" not in sandbox.status()["output"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert not sandbox.wait_idle(timeout=0.5)["idle"]


def test_the_status_of_an_ended_program_has_all_it_printed(tmp_path):
    """The runner's loop may answer a status request before it has read the program's last
    words from the pipe; the status takes them itself."""
    program = tmp_path / "server.py"
    program.write_text("print('about to fail')\nraise SystemExit('no')\n")
    ran = Program(program, seconds=30, memory=256 << 20, cpu=10)
    ran.proc.wait(10)                   # ended, and nothing has read its output yet
    st = ran.status()
    assert not st["running"] and st["returncode"] == 1 and st["output"] == "about to fail\nno\n", st


def test_output_is_bounded_but_keeps_both_ends():
    out = Output()
    out.add(b"first line\n")
    for _ in range(1000):
        out.add(b"x" * 1000)
    out.add(b"\nlast line\n")
    text = out.text()
    assert text.startswith("first line") and text.rstrip().endswith("last line")
    assert len(text) < 70_000 and "bytes not kept" in text and out.total > 1_000_000


def test_listening_reads_the_kernels_tables(tmp_path):
    (tmp_path / "tcp").write_text("  sl  local_address rem_address   st\n"
                                  "   0: 00000000:22B8 00000000:0000 0A\n   1: 0100007F:1F90 0100007F:9C40 01\n"
                                  "   2: 0B00007F:B3AB 00000000:0000 0A\n   3: 00000000:1B58 00000000:0000 0A\n")
    (tmp_path / "udp").write_text("  sl  local_address rem_address   st\n   0: 00000000:22B8 00000000:0000 07\n")
    # Docker's resolver on 127.0.0.11 and the runner's own port 7000 are not the program's
    assert listening(tmp_path, ignore=(7000,)) == [["tcp", 8888], ["udp", 8888]]


def test_redirect_sends_a_lab_address_to_the_checkers_peer(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(10)
        program = tmp_path / "client.py"
        program.write_text("from socket import *\ns = socket(AF_INET, SOCK_DGRAM)\n"
                           "s.sendto(b'hello', ('udp-server.invalid', 8888))\n")
        env = {"SOCKLAB_REDIRECT": json.dumps({"udp-server.invalid:8888": f"127.0.0.1:{peer.getsockname()[1]}"}),
               "PATH": "/usr/bin:/bin"}
        run = subprocess.run([sys.executable, "-m", "socklab.check.redirect", str(program)], env=env,
                             capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr
        assert peer.recvfrom(100)[0] == b"hello"


def result(task, check, passed):
    return Result(task=task, check=check, title=check, passed=passed, expected="x" if not passed else "",
                  seen="y" if not passed else "")


def test_results_are_merged_by_task_and_written_as_junit(tmp_path):
    report.save(tmp_path, [result("01-tcp-server", "a", True), result("02-tcp-client", "b", False)])
    report.save(tmp_path, [result("01-tcp-server", "a", False)])
    rows = json.loads((tmp_path / "results.json").read_text())["results"]
    assert [(r["task"], r["check"], r["pass"]) for r in rows] == [("01-tcp-server", "a", False),
                                                                  ("02-tcp-client", "b", False)]
    assert all(set(r) >= {"task", "check", "pass", "message", "time"} for r in rows)
    suites = ET.parse(tmp_path / "junit.xml").getroot()
    assert [s.get("name") for s in suites] == ["01-tcp-server", "02-tcp-client"]
    assert suites[0].find("testcase/failure") is not None


def test_a_corrupt_results_file_is_replaced_not_fatal(tmp_path):
    (tmp_path / "results.json").write_text("{not json")
    report.save(tmp_path, [result("01-tcp-server", "a", True)])
    assert json.loads((tmp_path / "results.json").read_text())["results"][0]["pass"] is True


def test_tasks_are_chosen_by_prefix():
    assert [t.name for t in select(["01"])] == ["01-tcp-server"]
    assert [t.name for t in select(["01-tcp-server", "01"])] == ["01-tcp-server"]
    with pytest.raises(ValueError, match="no exercise"):
        select(["99"])
    assert len(select([])) >= 1


def test_redirect_sends_an_af_unix_socket_file_to_another(tmp_path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as peer:
        peer.bind(str(tmp_path / "peer.sock"))
        peer.listen()
        peer.settimeout(10)
        program = tmp_path / "client.py"
        program.write_text("from socket import *\ns = socket(AF_UNIX, SOCK_STREAM)\n"
                           "s.connect('/run/socklab/nowhere.sock')\ns.sendall(b'hi')\n")
        env = {"SOCKLAB_REDIRECT": json.dumps({"/run/socklab/nowhere.sock": str(tmp_path / "peer.sock")}),
               "PATH": "/usr/bin:/bin"}
        proc = subprocess.Popen([sys.executable, "-m", "socklab.check.redirect", str(program)], env=env,
                                stderr=subprocess.PIPE, text=True)
        conn, _ = peer.accept()
        with conn:
            conn.settimeout(10)
            assert conn.recv(10) == b"hi"
        assert proc.wait(30) == 0, proc.stderr.read()


def test_once_shares_one_result_and_one_failure_per_run():
    from socklab.check.framework import CheckFailed, Task
    task, calls = Task(), []

    def make():
        calls.append(1)
        return len(calls)

    assert task.once("run", make) == 1 and task.once("run", make) == 1

    def fail():
        calls.append(1)
        raise CheckFailed("a run", "none")

    for _n in range(2):
        with pytest.raises(CheckFailed):
            task.once("broken", fail)
    assert len(calls) == 2          # each made once


def test_a_replaced_programs_pipe_reported_in_the_same_round_is_ignored(runner):
    """select() may report the old program's pipe after a start request replaced it."""
    r, sandbox, folder = runner
    (folder / "server.py").write_text("print('hello')\n")
    sandbox.start("01-tcp-server", "server.py")
    old = r.program.proc.stdout
    sandbox.start("01-tcp-server", "server.py")      # replaces it; the old pipe is unregistered
    r.on_output(old)                                   # a stale event: no KeyError, nothing breaks
    assert sandbox.status()["ok"]
