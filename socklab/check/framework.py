"""The pieces every exercise check is made of.

A **task** is one exercise folder, ``workspace/exercises/<name>/``, with the one program the
student edits.  A task is a class; each of its checks is a method marked with :func:`check`,
which either returns (PASS) or raises :class:`CheckFailed` saying what was expected, what was
seen and, when it helps, what the program printed (FAIL)::

    class TcpServer(ServerTask):
        name = "01-tcp-server"
        program = "server.py"
        section = "1.3.3"

        @check(N_("several messages on one connection get [ctime] data"), hint=N_("..."))
        def several_messages(self, ctx):
            ...

Two kinds of task, which differ only in where the student's program runs:

* :class:`ServerTask` -- on the host ``student-server`` (see :mod:`socklab.check.runner`),
  started before the checks and restarted before a check if it died in the previous one;
  the checks connect to it from the client host, across the lab network;
* :class:`ClientTask` -- on the client host, as the student runs it, through
  :meth:`Context.run_client`, with its standard input fed by the check, limits on time,
  CPU and memory, and (where a fault must be injected) some lab addresses redirected to a
  peer the check controls (:mod:`socklab.check.redirect`).

Hooks that may be overridden: :meth:`Task.setup` and :meth:`Task.teardown` (around all
checks of a task), :meth:`Task.before_check` (before each check).
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from socklab.i18n import _

WORKSPACE = Path(os.environ.get("SOCKLAB_WORKSPACE", Path.home() / "workspace"))
STUDENT_SERVER = os.environ.get("SOCKLAB_STUDENT_SERVER", "student-server")
RUNNER_PORT = 7000


class CheckFailed(Exception):
    """A check saw something other than what it expected.

    :param expected: what a correct program does, in words.
    :param seen: what this one did.
    :param output: what the program printed, when that helps to see why.
    """

    def __init__(self, expected: str, seen: str, output: str | None = None) -> None:
        super().__init__(f"expected {expected}; seen {seen}")
        self.expected = expected
        self.seen = seen
        self.output = output


def check(title: str, hint: str = ""):
    """Mark a method of a task as one check, with a *title* and a *hint* (both ``N_()``-marked)."""

    def mark(fn):
        fn.check_title = title
        fn.check_hint = hint
        return fn

    return mark


@dataclass
class Result:
    task: str
    check: str                  # the check's id: the method's name
    title: str                  # the check's title in the report's language
    passed: bool
    expected: str = ""
    seen: str = ""
    hint: str = ""
    output: str = ""
    seconds: float = 0.0
    time: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    @property
    def message(self) -> str:
        if self.passed:
            return ""
        return _("expected: {expected}; seen: {seen}").format(expected=self.expected, seen=self.seen)


# --------------------------------------------------------------------------- fresh data

def token(n: int = 8) -> str:
    """A fresh random word (letters and digits), different on every run."""
    return "".join(random.SystemRandom().choice(string.ascii_lowercase + string.digits) for _ in range(n))


def sentence(words: int = 4) -> str:
    """A fresh random message, so that remembered output cannot pass."""
    return " ".join(token(random.SystemRandom().randint(3, 9)) for _ in range(words))


def shorten(text: str, limit: int = 300) -> str:
    text = text if isinstance(text, str) else repr(text)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


# --------------------------------------------------------------------------- the student-server host

class Sandbox:
    """The student's server program on ``student-server``, through its exercise runner."""

    def __init__(self, host: str = STUDENT_SERVER, port: int = RUNNER_PORT) -> None:
        self.host = host
        self.port = port
        self.last: dict = {}

    def call(self, **request) -> dict:
        deadline = time.monotonic() + 15
        while True:
            try:
                data = self._ask(request)
                break
            except ConnectionRefusedError:
                if time.monotonic() < deadline:     # the runner is (re)starting: Docker restarts it
                    time.sleep(0.2)
                    continue
                raise CheckFailed(_("the host {host} to run your server on").format(host=self.host),
                                  _("it does not answer ({error}); is the lab up? (make lab)").format(
                                      error="connection refused"))
            except OSError as exc:
                raise CheckFailed(_("the host {host} to run your server on").format(host=self.host),
                                  _("it does not answer ({error}); is the lab up? (make lab)").format(error=exc))
        reply = json.loads(data or b"{}")
        if not reply.get("ok"):
            raise CheckFailed(_("your program to start on {host}").format(host=self.host),
                              reply.get("error", _("no answer")))
        self.last = reply
        return reply

    def _ask(self, request: dict) -> bytes:
        with socket.create_connection((self.host, self.port), timeout=15) as s:
            s.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data

    def start(self, task: str, program: str, seconds: float = 120) -> dict:
        return self.call(op="start", path=f"exercises/{task}/{program}", seconds=seconds)

    def status(self) -> dict:
        return self.call(op="status")

    def stop(self) -> dict:
        return self.call(op="stop")

    def output(self) -> str:
        try:
            return self.status().get("output", "")
        except CheckFailed:
            return self.last.get("output", "")

    def wait_idle(self, timeout: float = 3.0) -> dict:
        """Wait until the program has finished with the last check's clients and waits again (or
        has ended, or *timeout* passed: a program that never rests); return its status."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            if not st["running"] or st.get("idle") or time.monotonic() > deadline:
                return st
            time.sleep(0.05)

    def wait_listening(self, proto: str, port: int, timeout: float = 10.0) -> None:
        """Wait until the program listens on *port* (TCP) or has bound it (UDP); else explain."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            if [proto, port] in st["listening"]:
                return
            if not st["running"]:
                raise CheckFailed(_("your server to keep running and {what} port {port}").format(
                                      what=_("listen on") if proto == "tcp" else _("bind"), port=port),
                                  _("it ended at start with exit status {code}").format(code=st["returncode"]),
                                  st["output"])
            if time.monotonic() > deadline:
                others = ", ".join(f"{p}/{n}" for p, n in st["listening"])
                seen = (_("after {s:g} s it listens on {ports} only").format(s=timeout, ports=others) if others
                        else _("after {s:g} s it has bound no port at all").format(s=timeout))
                raise CheckFailed(_("your server on {proto} port {port} of all interfaces").format(
                                      proto=proto.upper(), port=port), seen, st["output"])
            time.sleep(0.1)


# --------------------------------------------------------------------------- running a client program

@dataclass
class ClientRun:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float

    @property
    def output(self) -> str:
        return (self.stdout + ("\n" if self.stdout and self.stderr else "") + self.stderr).strip()

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr


def _client_limits() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (30, 31))
    resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


OUTPUT_LIMIT = 256 * 1024


class Context:
    """What a check works with: the task's program, the sandbox, fresh data, scratch space."""

    def __init__(self, task: "Task", workspace: Path = WORKSPACE) -> None:
        self.task = task
        self.workspace = workspace
        self.folder = workspace / "exercises" / task.name
        self.program = self.folder / task.program
        self.sandbox = Sandbox()
        self.random = random.SystemRandom()
        self.scratch = Path(tempfile.mkdtemp(prefix=f"check-{task.name}-"))

    def run_client(self, stdin: str = "", timeout: float = 20.0, redirect: dict[str, str] | None = None,
                   cwd: Path | None = None, env: dict[str, str] | None = None) -> ClientRun:
        """Run the student's program on this host with *stdin*, as the student would.

        *redirect* maps lab addresses to checker peers, e.g. ``{"udp-server:8888":
        "127.0.0.1:40123"}``; the program does not notice (see :mod:`socklab.check.redirect`).
        The working folder is *cwd*, a fresh scratch folder by default.
        """
        argv = [sys.executable, "-u"]
        run_env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
        if redirect:
            argv += ["-m", "socklab.check.redirect"]
            run_env["SOCKLAB_REDIRECT"] = json.dumps(redirect)
        argv.append(str(self.program))
        started = time.monotonic()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(argv, cwd=cwd or self.scratch, stdin=subprocess.PIPE, stdout=out, stderr=err,
                                    env=run_env, start_new_session=True, preexec_fn=_client_limits)
            timed_out = False
            try:
                proc.communicate(stdin.encode("utf-8"), timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            except BrokenPipeError:             # it ended without reading its input
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)   # and whatever it started
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
            out.seek(0)
            err.seek(0)
            stdout = out.read(OUTPUT_LIMIT).decode("utf-8", "replace")
            stderr = err.read(OUTPUT_LIMIT).decode("utf-8", "replace")
        return ClientRun(None if timed_out else proc.returncode, stdout, stderr, timed_out,
                         time.monotonic() - started)

    def close(self) -> None:
        subprocess.run(["rm", "-rf", str(self.scratch)], check=False)


def no_traceback(run: ClientRun) -> None:
    """Fail when a client program ended with a Python traceback."""
    if run.traceback:
        last = [line for line in run.stderr.strip().splitlines() if line.strip()][-1:]
        raise CheckFailed(_("no traceback: errors reported in one line"),
                          _("a traceback ending in: {line}").format(line=last[0] if last else "?"), run.output)


def finished(run: ClientRun, timeout: float) -> None:
    if run.timed_out:
        raise CheckFailed(_("your program to finish by itself"),
                          _("still running after {s:g} s; stopped").format(s=timeout), run.output)


# --------------------------------------------------------------------------- tasks

class Task:
    """One exercise.  Subclasses set the class attributes and define checks with :func:`check`."""

    name = ""           # the folder under workspace/exercises/, e.g. "01-tcp-server"
    program = ""        # the one file the student edits, e.g. "server.py"
    section = ""        # the chapter's section number, e.g. "1.3.3"
    title = ""          # N_()-marked: what the student writes

    def checks(self) -> list:
        """The check methods, in the order they are written in the class."""
        found = []
        for klass in reversed(type(self).__mro__):
            for attr, fn in vars(klass).items():
                if hasattr(fn, "check_title") and attr not in [f.__name__ for f in found]:
                    found.append(fn)
        return [getattr(self, fn.__name__) for fn in found]

    # -- hooks that may be overridden

    def setup(self, ctx: Context) -> None:
        """Before the first check (e.g. start the student's server)."""

    def before_check(self, ctx: Context) -> None:
        """Before each check."""

    def teardown(self, ctx: Context) -> None:
        """After the last check, also when one failed."""

    def program_output(self, ctx: Context) -> str:
        """What the student's program printed, shown with a failed check (servers: from the sandbox)."""
        return ""

    # -- for the checks

    def once(self, key: str, make):
        """``make()``, computed once per run of the task and shared by the checks that ask for *key*.

        Several checks often judge one run of the student's program; a :class:`CheckFailed`
        raised while making it is kept too, and raised again to every check that asks.
        """
        done = self.__dict__.setdefault("_once", {})
        if key not in done:
            try:
                done[key] = make()
            except CheckFailed as exc:
                done[key] = exc
        if isinstance(done[key], CheckFailed):
            raise done[key]
        return done[key]

    # -- running

    def run(self, ctx: Context) -> list[Result]:
        self._once = {}                 # what once() made in an earlier run is stale now
        results = []
        checks = self.checks()
        if not ctx.program.is_file():
            return [self._result(fn, CheckFailed(_("your program {path}").format(path=self._where(ctx)),
                                                 _("there is no such file"))) for fn in checks]
        try:
            self.setup(ctx)
        except CheckFailed as exc:
            self.teardown_quietly(ctx)
            return [self._result(fn, exc) for fn in checks]
        try:
            for fn in checks:
                started = time.monotonic()
                try:
                    self.before_check(ctx)
                    fn(ctx)
                    failure = None
                except CheckFailed as exc:
                    failure = exc
                    if exc.output is None:
                        exc.output = self.program_output(ctx)
                except Exception as exc:  # noqa: BLE001 - the checker must go on with the next check
                    failure = CheckFailed(_("the check to run to its end"),
                                          _("the checker itself failed: {error}").format(
                                              error=f"{type(exc).__name__}: {exc}"),
                                          self.program_output(ctx))
                results.append(self._result(fn, failure, time.monotonic() - started))
        finally:
            self.teardown_quietly(ctx)
        return results

    def teardown_quietly(self, ctx: Context) -> None:
        try:
            self.teardown(ctx)
        except CheckFailed:
            pass

    def _where(self, ctx: Context) -> str:
        try:
            return str(ctx.program.relative_to(ctx.workspace.parent))
        except ValueError:
            return str(ctx.program)

    def _result(self, fn, failure: CheckFailed | None, seconds: float = 0.0) -> Result:
        hint = ""
        if failure is not None and fn.check_hint:
            hint = _(fn.check_hint) + " " + _("(the chapter, section {section})").format(section=self.section)
        return Result(task=self.name, check=fn.__name__, title=_(fn.check_title), passed=failure is None,
                      expected=failure.expected if failure else "", seen=failure.seen if failure else "",
                      hint=hint, output=shorten(failure.output or "", 2000) if failure else "",
                      seconds=round(seconds, 3))


class ServerTask(Task):
    """A task whose program is a server: it runs on ``student-server`` during the checks."""

    proto = "tcp"
    port = 8888
    seconds = 120       # the wall-clock limit of one start of the program

    def setup(self, ctx: Context) -> None:
        self.start(ctx)

    def start(self, ctx: Context) -> None:
        ctx.sandbox.start(self.name, self.program, seconds=self.seconds)
        ctx.sandbox.wait_listening(self.proto, self.port)

    def before_check(self, ctx: Context) -> None:
        st = ctx.sandbox.wait_idle()    # a server that ends after its first client has ended by now
        if not st["running"] or [self.proto, self.port] not in st["listening"]:
            self.start(ctx)             # a check that killed the server does not fail the next one

    def teardown(self, ctx: Context) -> None:
        ctx.sandbox.stop()

    def program_output(self, ctx: Context) -> str:
        return ctx.sandbox.output()


class ClientTask(Task):
    """A task whose program is a client: it runs on the client host, fed by the checks."""
