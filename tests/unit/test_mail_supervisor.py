"""mail-host's supervisor (services/mail/supervisor.py) with real child processes."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time

import pytest

from socklab.services.mail.supervisor import Supervisor, SupervisorError, remove_stale_locks

# A child that says it is ready (by creating a file), then sleeps; on SIGTERM it writes a
# last word and exits 0 -- so the tests can see who was stopped, and in which order.
CHILD = r"""
import pathlib, signal, sys, time
ready, log, name = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
def bye(*_):
    with log.open("a") as f:
        f.write(name + " stopped\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
ready.touch()
while True:
    time.sleep(0.05)
"""


def child(tmp_path, name: str) -> tuple[list[str], "callable"]:
    ready = tmp_path / f"{name}.ready"
    argv = [sys.executable, "-c", CHILD, str(ready), str(tmp_path / "order"), name]
    return argv, ready.exists


@pytest.fixture
def supervisor():
    s = Supervisor(logging.getLogger("test-supervisor"), stop_timeout=3)
    yield s
    s.stop()


def test_starts_in_order_and_waits_for_readiness(tmp_path, supervisor):
    for name in ("first", "second"):
        argv, ready = child(tmp_path, name)
        supervisor.start(name, argv, ready=ready, timeout=10)
        assert ready()
    assert [c.poll() for _, c in supervisor.children] == [None, None]


def test_a_child_dying_at_start_is_reported(tmp_path, supervisor):
    with pytest.raises(SupervisorError, match="exited with status 3 while starting"):
        supervisor.start("broken", [sys.executable, "-c", "raise SystemExit(3)"], ready=lambda: False)


def test_a_child_never_ready_times_out(tmp_path, supervisor):
    with pytest.raises(SupervisorError, match="not ready after"):
        supervisor.start("slow", [sys.executable, "-c", "import time; time.sleep(30)"],
                         ready=lambda: False, timeout=0.5)


def test_when_one_dies_the_other_is_stopped_and_the_status_is_1(tmp_path, supervisor):
    for name in ("dovecot", "smtpd"):
        argv, ready = child(tmp_path, name)
        supervisor.start(name, argv, ready=ready, timeout=10)
    dovecot = supervisor.children[0][1]
    threading.Timer(0.3, dovecot.kill).start()          # the MDA crashes
    assert supervisor.wait() == 1
    assert all(c.poll() is not None for _, c in supervisor.children)
    assert (tmp_path / "order").read_text() == "smtpd stopped\n"


def test_sigterm_stops_all_in_reverse_order_with_status_0(tmp_path):
    """The real thing: mail-host's Supervisor in its own process, stopped like `docker stop`."""
    script = tmp_path / "host.py"
    script.write_text(f"""
import logging, sys
from socklab.services.mail.supervisor import Supervisor
s = Supervisor(logging.getLogger("t"), stop_timeout=3)
s.catch_signals()
for name in ("dovecot", "smtpd"):
    s.start(name, [sys.executable, "-c", {CHILD!r}, r"{tmp_path}/" + name + ".ready", r"{tmp_path}/order", name],
            ready=lambda name=name: __import__("os").path.exists(r"{tmp_path}/" + name + ".ready"))
print("ready", flush=True)
sys.exit(s.wait())
""")
    with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True) as host:
        try:
            assert host.stdout.readline() == "ready\n"
            host.send_signal(signal.SIGTERM)
            assert host.wait(15) == 0
        finally:
            if host.poll() is None:
                host.kill()
    assert (tmp_path / "order").read_text() == "smtpd stopped\ndovecot stopped\n"


def test_a_child_ignoring_sigterm_is_killed(tmp_path, supervisor):
    supervisor.stop_timeout = 0.5
    ready = tmp_path / "stubborn.ready"
    code = f"import signal, time, pathlib; signal.signal(signal.SIGTERM, signal.SIG_IGN); " \
           f"pathlib.Path({str(ready)!r}).touch(); time.sleep(60)"
    supervisor.start("stubborn", [sys.executable, "-c", code], ready=ready.exists, timeout=10)
    started = time.monotonic()
    supervisor.stop()
    assert supervisor.children[0][1].returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_locks_left_in_the_store_are_removed_and_nothing_else(tmp_path):
    inbox = tmp_path / "lab.test" / "alice" / "Maildir"
    folder = inbox / ".Sent"
    for d in (inbox / "new", inbox / "cur", folder / "cur"):
        d.mkdir(parents=True)
    keep = [inbox / "new" / "1.M1.mail", inbox / "dovecot-uidlist", folder / "cur" / "2.M2.mail:2,S",
            inbox / "dovecot.index.log"]
    locks = [inbox / "dovecot-uidlist.lock", folder / "dovecot-uidlist.lock"]
    for path in keep + locks:
        path.write_text("16:mail")          # a lock names a pid that a restarted host may reuse
    assert sorted(remove_stale_locks(str(tmp_path))) == sorted(str(p) for p in locks)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in locks)
    assert remove_stale_locks(str(tmp_path)) == []
