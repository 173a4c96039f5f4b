"""What every socklab command-line client shares.

* :func:`parser` -- an ``argparse`` parser with the lab's defaults: ``--host`` names the lab
  host (``tcp-server``, ``ftp``, ``mail``, ...), plus ``--port``, ``--timeout`` and ``--trace``.
* :func:`messages` -- the chapter's conversation loop: ask for a line, a blank line ends;
  or take ``--message`` arguments or standard input when a script drives the client.
* :class:`Trace` -- prints what goes over the wire, so students can see the protocol.
* :func:`guard` and :func:`main` -- turn network failures (refused, unknown host, timeout,
  an untrusted certificate, ...) into one clear line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import select
import socket
import ssl
import sys
from collections.abc import Callable, Iterator, Sequence

from socklab.i18n import _


class ClientError(Exception):
    """A failure the user should read as one line; the command exits with status 1."""


class ReaderGone(Exception):
    """Whoever read our standard output has gone (``client | head``): stop, say nothing."""


def parser(prog: str, description: str, host: str | None, port: int | None) -> argparse.ArgumentParser:
    """A parser with ``--host/--port/--timeout/--trace``; *host* and *port* are the lab defaults."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    if host is not None:
        p.add_argument("--host", default=host, help=_("server host (default: {host}, the lab host)").format(host=host))
    if port is not None:
        p.add_argument("--port", type=int, default=port, help=_("server port (default: {port})").format(port=port))
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help=_("give up on a connection or reply after this long (default: 10)"))
    p.add_argument("--trace", action="store_true", help=_("show what goes over the wire (on stderr)"))
    return p


def add_message_args(p: argparse.ArgumentParser) -> None:
    """``--message`` for scripts; without it the client reads lines like the chapter's loop."""
    p.add_argument("-m", "--message", action="append", metavar="TEXT",
                   help=_("send TEXT instead of asking (repeat for several messages); "
                          "without it lines are read from the terminal or standard input, "
                          "and a blank line ends"))


def messages(args: argparse.Namespace, prompt: str = "> ") -> Iterator[str]:
    """Yield the messages to send: ``--message`` values, else lines until a blank one."""
    if args.message:
        yield from args.message
        return
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input(prompt) if interactive else sys.stdin.readline()
        except EOFError:
            return
        if not interactive:
            if not line:            # end of input
                return
            line = line.rstrip("\r\n")
        if not line:                # the chapter's rule: an empty line ends the session
            return
        yield line


class Trace:
    """Print each chunk sent (``C:``) and received (``S:``) to stderr when enabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _show(self, tag: str, data: bytes | str) -> None:
        if self.enabled:
            print(f"{tag} {data!r}", file=sys.stderr, flush=True)

    def sent(self, data: bytes | str) -> None:
        self._show("C:", data)

    def received(self, data: bytes | str) -> None:
        self._show("S:", data)

    def note(self, text: str) -> None:
        if self.enabled:
            print(f"-- {text}", file=sys.stderr, flush=True)


def describe(exc: BaseException, where: str) -> str:
    """One line that says what went wrong talking to *where* (``host:port`` or a path)."""
    if isinstance(exc, socket.gaierror):
        return _("unknown host in {where} (is the name right, and is the lab up?)").format(where=where)
    if isinstance(exc, ConnectionRefusedError):
        return _("cannot connect to {where}: connection refused (is the server running?)").format(where=where)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return _("no answer from {where} in time (timed out)").format(where=where)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _("TLS certificate of {where} is not trusted: {reason}").format(where=where, reason=exc.verify_message)
    if isinstance(exc, ssl.SSLError):
        return _("TLS failed with {where}: {reason}").format(where=where, reason=exc.reason or exc)
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return _("connection to {where} was closed by the other side").format(where=where)
    if isinstance(exc, FileNotFoundError):
        return _("no socket at {where} (is the server running?)").format(where=where)
    if isinstance(exc, OSError):
        return f"{where}: {exc.strerror or exc}"
    return f"{where}: {exc}"


@contextlib.contextmanager
def guard(where: str) -> Iterator[None]:
    """Turn any network error inside the block into a :class:`ClientError` about *where*."""
    try:
        yield
    except ClientError:
        raise
    except (OSError, EOFError) as exc:
        if isinstance(exc, BrokenPipeError) and _stdout_closed():
            raise ReaderGone from exc       # the pipe that broke was ours, not the server's
        raise ClientError(describe(exc, where)) from exc


def main(prog: str) -> Callable[[Callable[[Sequence[str] | None], int | None]], Callable[..., int]]:
    """Decorate a client's ``main(argv)``: errors become ``prog: message`` and exit status 1."""

    def wrap(fn: Callable[[Sequence[str] | None], int | None]) -> Callable[..., int]:
        @functools.wraps(fn)
        def entry(argv: Sequence[str] | None = None) -> int:
            try:
                return fn(argv) or 0
            except ClientError as exc:
                print(f"{prog}: {exc}", file=sys.stderr)
                return 1
            except KeyboardInterrupt:
                print(file=sys.stderr)
                return 130
            except ReaderGone:
                return 141                  # what a shell reports for a process ended by SIGPIPE
            except BrokenPipeError as exc:
                if _stdout_closed():        # `client | head`: the reader left, nothing to report
                    return 141
                print(f"{prog}: {describe(exc, _('the server'))}", file=sys.stderr)
                return 1
            except OSError as exc:          # anything a client did not guard itself
                print(f"{prog}: {describe(exc, _('the server'))}", file=sys.stderr)
                return 1

        return entry

    return wrap


def _stdout_closed() -> bool:
    """Has the reader of our standard output gone away?  (Then stop writing to it quietly.)"""
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        gone = any(event & select.POLLERR for _fd, event in poller.poll(0))  # a pipe with no reader
    except (OSError, ValueError):
        return False
    if gone:
        # Python would complain once more at exit while flushing; point stdout elsewhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
    return gone


def connect(host: str, port: int, timeout: float) -> socket.socket:
    """``socket.create_connection`` with a clear error instead of a traceback."""
    with guard(f"{host}:{port}"):
        return socket.create_connection((host, port), timeout=timeout)


def env(name: str, default: str) -> str:
    """A lab setting from the environment (compose passes accounts and names this way)."""
    return os.environ.get(name, default)
