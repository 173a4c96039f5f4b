"""Running the news server in-process for tests, and talking to it with nntplib or raw bytes."""

from __future__ import annotations

import logging
import shutil
import socket
import threading
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import nntplib

from socklab.services.news.server import NewsServer, open_spool
from testpki import make_pki

ACCOUNTS = {"student": "password"}


class RunningServer:
    """A news server on 127.0.0.1 (ephemeral port) over the spool in *spool_dir*."""

    def __init__(self, spool_dir: Path, *, seed: bool = True, **options) -> None:
        self.spool_dir = spool_dir
        self.spool = open_spool(spool_dir, seed_new=seed)
        options.setdefault("accounts", ACCOUNTS)
        options.setdefault("idle_timeout", 10.0)
        self.server = NewsServer(("127.0.0.1", 0), self.spool, **options)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        self._log = _Lines()
        logging.getLogger("news-server").addHandler(self._log)
        logging.getLogger("news-server").setLevel(logging.INFO)     # what the server's main() configures

    def log_lines(self) -> list[str]:
        """What the server has logged since it started."""
        return list(self._log.lines)

    def nntp(self, **kw) -> nntplib.NNTP:
        return nntplib.NNTP("127.0.0.1", self.port, timeout=10, **kw)

    def raw(self, timeout: float = 10.0) -> "Raw":
        return Raw(("127.0.0.1", self.port), timeout)

    def stop(self) -> None:
        logging.getLogger("news-server").removeHandler(self._log)
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + "\n")


class Raw:
    """A bare socket client: send exact bytes, read exact replies."""

    def __init__(self, address, timeout: float) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.greeting = self.line()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        """One reply line without CRLF (b"" when the server has closed the connection)."""
        line = self.file.readline(100_000)
        assert line == b"" or line.endswith(b"\r\n"), f"reply line without CRLF: {line!r}"
        return line[:-2]

    def cmd(self, command: bytes | str) -> bytes:
        if isinstance(command, str):
            command = command.encode()
        self.send(command + b"\r\n")
        return self.line()

    def block(self) -> list[bytes]:
        """A multi-line data block, dot-stuffing undone, without the final dot."""
        lines = []
        while True:
            line = self.line()
            if line == b".":
                return lines
            assert line, "connection closed inside a data block"
            lines.append(line[1:] if line.startswith(b"..") else line)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture(scope="session")
def seeded_spool(tmp_path_factory) -> Path:
    """A freshly seeded spool, made once; tests get copies of it."""
    path = tmp_path_factory.mktemp("seeded") / "spool"
    open_spool(path)
    return path


@pytest.fixture
def spool_dir(tmp_path, seeded_spool) -> Path:
    """A seeded spool of the test's own."""
    path = tmp_path / "spool"
    shutil.copytree(seeded_spool, path)
    return path


@pytest.fixture
def news(spool_dir):
    """A news server over a seeded spool, stopped after the test."""
    server = RunningServer(spool_dir)
    yield server
    server.stop()


def code(reply: bytes) -> int:
    return int(reply[:3])


def article_bytes(group: str = "lab.test", subject: str = "hello", body: str = "Hello, world.",
                  sender: str = "Tester <tester@lab.test>", extra: str = "") -> bytes:
    """A minimal article as a poster sends it (CRLF line ends)."""
    text = f"From: {sender}\r\nNewsgroups: {group}\r\nSubject: {subject}\r\n{extra}\r\n{body}\r\n"
    return text.encode("utf-8")


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A test CA and the news server's certificate for localhost/127.0.0.1: (ca, cert, key)."""
    pki = make_pki(tmp_path_factory.mktemp("tls"), "news")
    return pki["ca"], pki["cert"], pki["key"]

