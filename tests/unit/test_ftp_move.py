"""``ftp-move`` between two FTP servers in this process: moves, verifies, resumes, never loses a file."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from ftp_support import PASSWORD, USER, running
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.ioloop import IOLoop
from pyftpdlib.servers import FTPServer

from socklab.clients import ftp_move
from socklab.services.ftp import FTPLabServer
from socklab.clients.ftp_move import part_name


def content(i: int) -> bytes:
    return f"reading {i}\n".encode() * (1 + i % 37)


@pytest.fixture
def servers(tmp_path):
    with running(tmp_path / "a", name="ftp") as a, running(tmp_path / "b", name="ftp-backup") as b:
        yield a, b, tmp_path / "a" / "home" / USER, tmp_path / "b" / "home" / USER


def fill(directory: Path, count: int, prefix: str = "obs") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (directory / f"{prefix}-{i:05d}.dat").write_bytes(content(i))


def argv(a, b, *extra: str) -> list[str]:
    return ["--source", "127.0.0.1", "--source-port", str(a.address[1]),
            "--target", "127.0.0.1", "--target-port", str(b.address[1]),
            "-u", USER, "-p", PASSWORD, "--source-dir", "out", "--target-dir", "in", *extra]


def summary(out: str) -> dict[str, int]:
    line = [l for l in out.splitlines() if l.startswith("ftp-move: ") and " moved " in l][-1]
    counts = {"moved": int(re.search(r"moved (\d+) files", line).group(1))}
    for key in ("already there", "resumed", "skipped", "failed"):
        counts[key.split()[0]] = int(re.search(key + r" (\d+)", line).group(1))
    return counts


def assert_moved(src: Path, dst: Path, count: int, prefix: str = "obs") -> None:
    """Every file on the target exactly once, with the right bytes; none left at the source."""
    names = sorted(os.listdir(dst))
    assert names == [f"{prefix}-{i:05d}.dat" for i in range(count)]       # no temporary names left
    for i in range(count):
        assert (dst / f"{prefix}-{i:05d}.dat").read_bytes() == content(i), i
    assert not [n for n in os.listdir(src) if n.startswith(prefix)]


def test_moves_matching_files_and_leaves_the_rest(servers, capsys):
    a, b, src, dst = servers
    fill(src / "out", 150)
    (src / "out" / "notes.txt").write_text("stays")
    assert ftp_move.main(argv(a, b, "obs-*.dat")) == 0
    out = capsys.readouterr().out
    assert summary(out) == {"moved": 150, "already": 0, "resumed": 0, "skipped": 0, "failed": 0}
    assert "150 files match on 127.0.0.1" in out
    assert_moved(src / "out", dst / "in", 150)
    assert os.listdir(src / "out") == ["notes.txt"]
    # idempotent: a second run finds nothing to do and succeeds
    assert ftp_move.main(argv(a, b, "obs-*.dat")) == 0
    assert summary(capsys.readouterr().out)["moved"] == 0
    assert_moved(src / "out", dst / "in", 150)


def test_regex_patterns_and_dry_run(servers, capsys):
    a, b, src, dst = servers
    fill(src / "out", 20)
    assert ftp_move.main(argv(a, b, "--dry-run", "--regex", r"obs-0001\d\.dat")) == 0
    out = capsys.readouterr().out
    assert "10 files match" in out and "obs-00019.dat" in out
    assert not (dst / "in").exists() or not os.listdir(dst / "in")
    assert len(os.listdir(src / "out")) == 20
    assert ftp_move.main(argv(a, b, "--regex", r"obs-0001\d\.dat")) == 0
    assert sorted(os.listdir(dst / "in")) == [f"obs-{i:05d}.dat" for i in range(10, 20)]


def test_finishes_a_move_stopped_after_the_rename(servers, capsys):
    """The target has the file under its final name and the source still has it: delete the source only."""
    a, b, src, dst = servers
    fill(src / "out", 3)
    (dst / "in").mkdir()
    (dst / "in" / "obs-00001.dat").write_bytes(content(1))
    mtime = (dst / "in" / "obs-00001.dat").stat().st_mtime_ns
    assert ftp_move.main(argv(a, b, "-v", "obs-*")) == 0
    out = capsys.readouterr().out
    assert summary(out) == {"moved": 2, "already": 1, "resumed": 0, "skipped": 0, "failed": 0}
    assert "already obs-00001.dat" in out
    assert (dst / "in" / "obs-00001.dat").stat().st_mtime_ns == mtime       # not copied again
    assert_moved(src / "out", dst / "in", 3)


def test_a_different_file_of_the_same_name_is_skipped_unless_overwrite(servers, capsys):
    a, b, src, dst = servers
    fill(src / "out", 2)
    (dst / "in").mkdir()
    (dst / "in" / "obs-00000.dat").write_bytes(b"someone else's file")
    assert ftp_move.main(argv(a, b, "obs-*")) == 1
    captured = capsys.readouterr()
    assert summary(captured.out)["skipped"] == 1
    assert "skipped obs-00000.dat: a different file" in captured.err
    assert (src / "out" / "obs-00000.dat").read_bytes() == content(0)        # the source stays
    assert (dst / "in" / "obs-00000.dat").read_bytes() == b"someone else's file"
    assert ftp_move.main(argv(a, b, "--overwrite", "obs-*")) == 0
    assert_moved(src / "out", dst / "in", 2)


@pytest.mark.parametrize("verify", ["auto", "readback"])
def test_resumes_a_partial_copy(servers, capsys, verify):
    a, b, src, dst = servers
    (src / "out").mkdir()
    data = os.urandom(3_000_000)
    (src / "out" / "obs-big.dat").write_bytes(data)
    (dst / "in").mkdir()
    (dst / "in" / part_name("obs-big.dat")).write_bytes(data[:1_000_000])
    assert ftp_move.main(argv(a, b, "--verify", verify, "obs-*")) == 0
    out = capsys.readouterr().out
    assert summary(out)["resumed"] == 1
    assert (dst / "in" / "obs-big.dat").read_bytes() == data
    assert os.listdir(dst / "in") == ["obs-big.dat"]
    assert not (src / "out" / "obs-big.dat").exists()


def test_a_partial_copy_that_is_not_a_prefix_is_caught_and_redone(servers, capsys):
    a, b, src, dst = servers
    (src / "out").mkdir()
    data = os.urandom(500_000)
    (src / "out" / "obs-x.dat").write_bytes(data)
    (dst / "in").mkdir()
    (dst / "in" / part_name("obs-x.dat")).write_bytes(b"\0" * 200_000)          # wrong bytes
    assert ftp_move.main(argv(a, b, "obs-*")) == 0
    err = capsys.readouterr().err
    assert "retry obs-x.dat: SHA-256 differs" in err
    assert (dst / "in" / "obs-x.dat").read_bytes() == data
    (src / "out" / "obs-y.dat").write_bytes(data)
    (dst / "in" / part_name("obs-y.dat")).write_bytes(b"\0" * 600_000)          # longer than the file
    assert ftp_move.main(argv(a, b, "obs-y*")) == 0
    assert (dst / "in" / "obs-y.dat").read_bytes() == data


def test_target_without_hash_is_verified_by_reading_back(tmp_path, capsys):
    """A stock pyftpdlib server has no HASH: the copy is read back and hashed by ftp-move."""
    plain_root = tmp_path / "plain"
    (plain_root / "in").mkdir(parents=True)
    authorizer = DummyAuthorizer()
    authorizer.add_user(USER, PASSWORD, str(plain_root), perm="elradfmwMT")
    handler = type("Plain", (FTPHandler,), {"authorizer": authorizer})
    plain = FTPServer(("127.0.0.1", 0), handler, ioloop=IOLoop())
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            plain.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        plain.close_all()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with running(tmp_path / "a") as a:
            src = tmp_path / "a" / "home" / USER
            fill(src / "out", 30)
            assert ftp_move.main(argv(a, plain, "--trace", "obs-*")) == 0
            err = capsys.readouterr().err
            assert "*cmd* 'HASH " not in err                                   # nobody was asked
            assert "*cmd* 'RETR .obs-00000.dat.ftp-move-part'" in err          # the copy was read back
            assert_moved(src / "out", plain_root / "in", 30)
    finally:
        stop.set()
        thread.join(5)


def test_source_directory_errors_are_one_line(servers, capsys):
    a, b, src, dst = servers
    assert ftp_move.main(argv(a, b, "obs-*")) == 1
    err = capsys.readouterr().err
    assert err.startswith("ftp-move: directory out: 550 ") and err.count("\n") == 1


def test_same_directory_is_refused(servers, capsys):
    a, b, src, dst = servers
    fill(src / "out", 2)
    args = argv(a, a, "obs-*")
    args[args.index("in")] = "out"
    assert ftp_move.main(args) == 1
    assert "source and target are the same directory" in capsys.readouterr().err
    assert len(os.listdir(src / "out")) == 2


def run_killed(cmd: list[str], kill_when, timeout: float = 60) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not kill_when():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return proc


def test_kill_9_mid_file_then_run_again(tmp_path):
    """SIGKILL during a large copy leaves a partial copy; the next run resumes it."""
    # 10 MB at 2 MB/s: the kill (past 100 kB) has seconds to land before the copy ends, even
    # when this test's process waits its turn for a core
    with running(tmp_path / "a", rate_limit=2_000_000) as a, running(tmp_path / "b") as b:
        src, dst = tmp_path / "a/home" / USER, tmp_path / "b/home" / USER
        (src / "out").mkdir()
        data = os.urandom(10_000_000)
        (src / "out" / "obs-big.dat").write_bytes(data)
        part = dst / "in" / part_name("obs-big.dat")
        cmd = [sys.executable, "-m", "socklab.clients.ftp_move", *argv(a, b, "obs-*")]
        proc = run_killed(cmd, lambda: part.exists() and part.stat().st_size > 100_000)
        assert proc.returncode == -signal.SIGKILL
        stopped_at = part.stat().st_size
        assert 0 < stopped_at < len(data)
        assert not (dst / "in" / "obs-big.dat").exists()       # nothing at the final name yet
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr
        assert summary(again.stdout)["resumed"] == 1
        assert (dst / "in" / "obs-big.dat").read_bytes() == data
        assert os.listdir(dst / "in") == ["obs-big.dat"]
        assert not (src / "out" / "obs-big.dat").exists()


def test_kill_9_during_many_small_files_then_run_again(servers):
    a, b, src, dst = servers
    fill(src / "out", 600)
    cmd = [sys.executable, "-m", "socklab.clients.ftp_move", *argv(a, b, "-j", "3", "obs-*")]
    def finals() -> list[str]:
        return [n for n in os.listdir(dst / "in") if not n.endswith(".ftp-move-part")] if (dst / "in").exists() else []

    for stop_at in (100, 350):
        proc = run_killed(cmd, lambda: len(finals()) >= stop_at)
        assert proc.returncode == -signal.SIGKILL
        on_target = finals()
        assert stop_at <= len(on_target) < 600
        for name in on_target:                                 # a final name is always a whole file
            assert (dst / "in" / name).read_bytes() == content(int(name[4:9]))
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert_moved(src / "out", dst / "in", 600)


def test_target_restarting_mid_run(tmp_path):
    """The target goes away and comes back on the same port: ftp-move reconnects and finishes."""
    with running(tmp_path / "a") as a:
        src, dst = tmp_path / "a/home" / USER, tmp_path / "b/home" / USER
        fill(src / "out", 400)
        with running(tmp_path / "b") as b:
            port = b.address[1]
            cmd = [sys.executable, "-m", "socklab.clients.ftp_move", *argv(a, b, "-v", "obs-*")]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 60
            while not ((dst / "in").exists() and len(os.listdir(dst / "in")) >= 50):
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.005)
        time.sleep(0.5)                                   # nobody listens for a moment
        b2 = FTPLabServer(("127.0.0.1", port), root=tmp_path / "b", users={USER: PASSWORD}, auth_failed_delay=0.05)
        thread = threading.Thread(target=b2.serve_forever, kwargs={"poll": 0.05}, daemon=True)
        thread.start()
        try:
            out, err = proc.communicate(timeout=120)
        finally:
            b2.shutdown()
            thread.join(10)
        assert proc.returncode == 0, err
        assert "retry " in err and "Traceback" not in err
        assert_moved(src / "out", dst / "in", 400)
