"""``ftp-client`` against an FTP server in this process: every subcommand, both modes, TLS, errors."""

from __future__ import annotations

import hashlib
import io
import socket
import sys

import pytest
from ftp_support import PASSWORD, USER, make_pki, running

from socklab.clients import ftp_client


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def root(tmp_path):
    return tmp_path / "srv"


@pytest.fixture
def server(root, pki):
    with running(root, certfile=str(pki["cert"]), keyfile=str(pki["key"])) as srv:
        yield srv


@pytest.fixture
def home(root):
    return root / "home" / USER


@pytest.fixture
def ftp(server, capsys, monkeypatch, tmp_path):
    """Run ``ftp-client`` with the server's address; returns (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)

    def run(*args: str, user: str | None = USER, stdin: str | None = None):
        argv = ["--host", "127.0.0.1", "--port", str(server.address[1])]
        if user:
            argv += ["-u", user, "-p", PASSWORD if user == USER else "x@y"]
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = ftp_client.main([*argv, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


# --------------------------------------------------------------------------- the chapter's methods

def test_pwd_cd_ls_nlst(ftp):
    assert ftp("pwd", user="anonymous") == (0, "/\n", "")
    code, out, _ = ftp("cd", "/pub/tree", user="anonymous")
    assert (code, out) == (0, "/pub/tree\n")
    code, out, _ = ftp("ls", "/pub", user="anonymous")
    assert code == 0
    assert any(line.startswith("-") and line.endswith(" README.txt") for line in out.splitlines())
    assert any(line.startswith("d") and line.endswith(" tree") for line in out.splitlines())
    code, out, _ = ftp("--cd", "/pub/tree/data", "nlst", user="anonymous")
    assert (code, out) == (0, "2016\n")


def test_cat_prints_a_text_file(ftp, root):
    code, out, _ = ftp("cat", "/pub/tree/docs/protocols/ftp.txt", user="anonymous")
    assert code == 0
    assert out == (root / "public/pub/tree/docs/protocols/ftp.txt").read_text()


def test_get_binary_and_text(ftp, tmp_path):
    code, out, _ = ftp("get", "/pub/binary/bytes-0-255.bin", user="anonymous")
    assert code == 0 and out.startswith("/pub/binary/bytes-0-255.bin -> bytes-0-255.bin: 1024 bytes in ")
    assert (tmp_path / "bytes-0-255.bin").read_bytes() == bytes(range(256)) * 4
    assert not (tmp_path / "bytes-0-255.bin.part").exists()
    code, _, _ = ftp("get", "--text", "/pub/binary/bytes-0-255.bin", "ascii.bin", user="anonymous")
    assert code == 0
    assert (tmp_path / "ascii.bin").read_bytes() != bytes(range(256)) * 4   # what ASCII mode does


def test_get_large_file_verified_and_to_stdout(ftp, tmp_path, root):
    code, out, _ = ftp("get", "--verify", "/pub/large/random-8MiB.bin", str(tmp_path), user="anonymous")
    assert code == 0
    assert "verified: SHA-256 " in out
    want = (root / "public/pub/large/random-8MiB.bin.sha256").read_text().split()[0]
    assert hashlib.sha256((tmp_path / "random-8MiB.bin").read_bytes()).hexdigest() == want
    code, out, _ = ftp("get", "/pub/tree/README.txt", "-", user="anonymous")
    assert (code, out) == (0, (root / "public/pub/tree/README.txt").read_text())


def test_get_resume_continues_a_partial_download(ftp, tmp_path, root):
    data = (root / "public/pub/large/random-8MiB.bin").read_bytes()
    (tmp_path / "big.bin.part").write_bytes(data[:3_000_000])
    code, out, _ = ftp("get", "--resume", "/pub/large/random-8MiB.bin", "big.bin", user="anonymous")
    assert code == 0, out
    assert "resumed at 3000000" in out
    assert (tmp_path / "big.bin").read_bytes() == data


def test_put_mv_rm_mkdir_rmdir(ftp, tmp_path, home):
    (tmp_path / "notes.txt").write_bytes(b"line one\nline two\n")
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 100)
    assert ftp("mkdir", "reports")[:2] == (0, "/reports\n")
    code, out, _ = ftp("put", "--verify", "blob.bin", "reports/blob.bin")
    assert code == 0 and "verified: SHA-256" in out
    assert (home / "reports/blob.bin").read_bytes() == bytes(range(256)) * 100
    assert ftp("put", "--text", "notes.txt", "reports/notes.txt")[0] == 0
    assert (home / "reports/notes.txt").read_bytes() == b"line one\nline two\n"
    assert ftp("size", "reports/blob.bin")[:2] == (0, "25600\n")
    code, out, _ = ftp("mv", "reports/notes.txt", "reports/renamed.txt")
    assert code == 0 and out.startswith("250 ")
    assert (home / "reports/renamed.txt").exists() and not (home / "reports/notes.txt").exists()
    assert ftp("rm", "reports/renamed.txt")[0] == 0
    assert ftp("delete", "reports/blob.bin")[0] == 0
    code, out, _ = ftp("rmdir", "reports")
    assert code == 0 and out.startswith("250 ")
    assert not (home / "reports").exists()


def test_put_resume_continues_a_partial_upload(ftp, tmp_path, home):
    data = bytes(range(256)) * 4000
    (tmp_path / "up.bin").write_bytes(data)
    (home / "up.bin").write_bytes(data[:100_000])
    code, out, _ = ftp("put", "--resume", "up.bin")
    assert code == 0 and "resumed at 100000" in out
    assert (home / "up.bin").read_bytes() == data


def test_hash_and_feat(ftp, root):
    data = (root / "public/pub/README.txt").read_bytes()
    code, out, _ = ftp("hash", "/pub/README.txt", user="anonymous")
    assert (code, out) == (0, f"{hashlib.sha256(data).hexdigest()}  /pub/README.txt\n")
    code, out, _ = ftp("hash", "--algorithm", "md5", "/pub/README.txt", user="anonymous")
    assert out.split()[0] == hashlib.md5(data).hexdigest()
    code, out, _ = ftp("feat", user="anonymous")
    assert "AUTH TLS" in out.splitlines() and "EPSV" in out.splitlines()


def test_active_mode(ftp, tmp_path, home):
    (tmp_path / "a.txt").write_text("active\n")
    assert ftp("--active", "put", "a.txt")[0] == 0
    assert (home / "a.txt").read_text() == "active\n"
    code, out, _ = ftp("--active", "nlst")
    assert code == 0 and "a.txt" in out.split()


def test_tls_session_verified(ftp, pki, tmp_path, home):
    (tmp_path / "s.txt").write_text("over TLS\n")
    code, out, err = ftp("--tls", "--cafile", str(pki["ca"]), "--trace", "put", "s.txt")
    assert code == 0, err
    assert "*cmd* 'AUTH TLS'" in err and "*cmd* 'PROT P'" in err
    assert err.index("AUTH TLS") < err.index("USER")      # the password went encrypted
    assert (home / "s.txt").read_text() == "over TLS\n"
    code, _, err = ftp("--tls", "nlst")                    # the system does not trust this CA
    assert code == 1
    assert err.startswith("ftp-client: ") and "certificate" in err and "Traceback" not in err


def test_trace_goes_to_stderr_and_hides_the_password(ftp):
    code, out, err = ftp("--trace", "pwd")
    assert (code, out) == (0, "/\n")
    assert "*cmd* 'PWD'" in err
    assert PASSWORD not in err and "*cmd* 'PASS *" in err


def test_shell_keeps_one_session(ftp, tmp_path):
    script = ("cd /pub/tree\npwd\nnlst\nget README.txt\ncat nothing-here\n"
              "cat /pub/binary/bytes-0-255.bin\npwd\nquit\n")
    code, out, err = ftp("shell", user="anonymous", stdin=script)
    assert code == 1                                       # two commands failed ...
    lines = out.splitlines()
    assert lines[:3] == ["/pub/tree", "/pub/tree", "README.txt"]
    assert lines[-1] == "/pub/tree"                        # ... and the session went on
    assert "550" in err and "is not UTF-8 text" in err     # ... each saying why
    assert (tmp_path / "README.txt").exists()


def test_progress_bar(ftp, tmp_path):
    code, _, err = ftp("--progress", "get", "/pub/large/random-8MiB.bin", user="anonymous")
    assert code == 0
    assert "random-8MiB.bin [" in err and "100%" in err and "MB/s" in err


# --------------------------------------------------------------------------- errors: one line, exit 1

def test_errors_are_one_line(ftp, capsys):
    code, _, err = ftp("get", "/pub/nothing.bin", user="anonymous")
    assert code == 1 and err.startswith("ftp-client: get: 550 ") and err.count("\n") == 1
    code, _, err = ftp("put", "no-such-local-file")
    assert (code, err) == (1, "ftp-client: no-such-local-file: no such local file\n")
    code, _, err = ftp("mkdir", "/pub/x", user="anonymous")
    assert (code, err) == (1, "ftp-client: mkdir: 550 Not enough privileges.\n")
    code, _, err = ftp("get", "/pub/README.txt", "/proc/no-such-dir/x", user="anonymous")
    assert code == 1 and err.startswith("ftp-client: cannot write /proc/no-such-dir/x.part: ")


def test_get_to_a_device(ftp):
    code, out, _ = ftp("get", "/pub/large/random-8MiB.bin", "/dev/null", user="anonymous")
    assert code == 0 and "-> /dev/null: 8388608 bytes" in out


def test_wrong_password_is_one_line(server, capsys):
    code = ftp_client.main(["--host", "127.0.0.1", "--port", str(server.address[1]), "-u", USER, "-p", "nope", "pwd"])
    err = capsys.readouterr().err
    assert (code, err) == (1, "ftp-client: login as student refused: 530 Authentication failed.\n")


def test_refused_and_unknown_host(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert ftp_client.main(["--host", "127.0.0.1", "--port", str(free), "pwd"]) == 1
    assert "connection refused" in capsys.readouterr().err
    assert ftp_client.main(["--host", "no-such-host.invalid", "pwd"]) == 1
    assert "unknown host" in capsys.readouterr().err


def test_no_password_without_a_terminal(server, capsys, monkeypatch):
    monkeypatch.delenv("FTP_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert ftp_client.main(["--host", "127.0.0.1", "--port", str(server.address[1]), "-u", USER, "pwd"]) == 1
    assert "no password for student" in capsys.readouterr().err
    monkeypatch.setenv("FTP_PASSWORD", PASSWORD)
    assert ftp_client.main(["--host", "127.0.0.1", "--port", str(server.address[1]), "-u", USER, "pwd"]) == 0


def test_server_dropping_an_idle_session_is_one_line(root, capsys, monkeypatch):
    with running(root, idle_timeout=1) as srv:
        monkeypatch.setattr(sys, "stdin", io.StringIO("pwd\n"))
        slow = io.StringIO("pwd\n")

        def late_readline():
            import time
            time.sleep(2.5)                  # longer than the idle timeout
            return slow.readline()

        monkeypatch.setattr(sys.stdin, "readline", late_readline)
        code = ftp_client.main(["--host", "127.0.0.1", "--port", str(srv.address[1]), "shell"])
        err = capsys.readouterr().err
        assert code == 1
        assert "421" in err or "closed the connection" in err
        assert "Traceback" not in err
