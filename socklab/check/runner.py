"""``exercise-runner``: runs a student's server program on the lab host ``student-server``.

``lab-check`` (on the client host) checks a student's *server* from another host, the way
the chapter's clients reach the chapter's servers.  It cannot start programs on another host
itself, so this small runner does it for it, on a host that exists only for students' code:

* the workspace is mounted **read-only** here, so a program cannot damage the student's files;
* the program runs as the unprivileged user ``socklab``, in a session of its own, with limits
  on CPU seconds, memory and file size, and a wall-clock limit after which it is killed;
* the host itself (compose.yaml) has no capabilities, a process-count limit (a fork bomb stops
  there), a memory limit and half a core, so a busy loop slows nothing else of the lab.

The protocol is one JSON line per connection, answered by one JSON line (port 7000, the lab
network only; nothing is published on the host)::

    {"op": "start", "path": "exercises/01-tcp-server/server.py", "seconds": 120}
    {"op": "status"}      -> running, exit status, listening ports, idle or not, what it printed
    {"op": "stop"}        -> the same, after killing it and everything it started

The runner is single-threaded on purpose: a fork bomb that uses up the host's process limit
cannot then stop the runner from answering or from killing it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import selectors
import signal
import socket
import subprocess
import time
from pathlib import Path

from socklab.log import configure

PORT = 7000
WORKSPACE = Path("/home/student/workspace")
OUTPUT_LIMIT = 64 * 1024            # what is kept of a program's output: its first and last 32 KiB
REQUEST_LIMIT = 4096


DOCKER_DNS = "0B00007F"        # 127.0.0.11, where Docker's resolver listens in every container


def listening(proc_net: Path = Path("/proc/net"), ignore: tuple[int, ...] = ()) -> list[list]:
    """The TCP ports listening and UDP ports bound in this host's network namespace.

    Docker's own resolver (127.0.0.11) and the ports in *ignore* (the runner's) are left out.
    """
    found = set()
    for proto, names, state in (("tcp", ("tcp", "tcp6"), "0A"), ("udp", ("udp", "udp6"), "07")):
        for name in names:
            try:
                lines = (proc_net / name).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) > 3 and fields[3] == state:
                    address, port = fields[1].rsplit(":", 1)
                    if address != DOCKER_DNS and int(port, 16) not in ignore:
                        found.add((proto, int(port, 16)))
    return [list(item) for item in sorted(found)]


CLIENT_STATES = {"01": "ESTABLISHED", "03": "SYN_RECV", "08": "CLOSE_WAIT"}


def processes(group: int, proc: Path = Path("/proc")) -> list[int]:
    """The processes of the process group *group* that have not ended."""
    found = []
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == group and fields[0] not in "ZX":
                found.append(int(entry.name))
    return found


def idle(pids: list[int], proc: Path = Path("/proc")) -> bool:
    """Do the processes *pids* wait for something, having finished with every client?

    Idle: every thread of theirs sleeps (in accept(), recv(), select() ...) and none holds a
    TCP connection that is open or that its peer has closed (ESTABLISHED, SYN_RECV,
    CLOSE_WAIT).  A server that has just read a client's goodbye is not idle until it has
    closed that connection and gone back to waiting -- or ended.
    """
    sockets = set()
    for pid in pids:
        try:
            for task in (proc / str(pid) / "task").iterdir():
                if (task / "stat").read_text().rsplit(")", 1)[1].split()[0] not in "SI":
                    return False
            for fd in (proc / str(pid) / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    sockets.add(target[8:-1])
        except (OSError, IndexError):
            continue                # it ended while we looked
    if not sockets:
        return True
    for name in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] in CLIENT_STATES and fields[9] in sockets:
                return False
    return True


class Output:
    """A program's output, bounded: the first and the last half of OUTPUT_LIMIT, and a count."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = OUTPUT_LIMIT // 2 - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            del self.tail[:-OUTPUT_LIMIT // 2]

    def text(self) -> str:
        cut = self.total - len(self.head) - len(self.tail)
        middle = f"\n[... {cut} bytes not kept ...]\n".encode() if cut > 0 else b""
        return (bytes(self.head) + middle + bytes(self.tail)).decode("utf-8", "replace")


class Program:
    """One student program, started with limits in a session (process group) of its own."""

    def __init__(self, path: Path, seconds: float, memory: int, cpu: int) -> None:
        self.path = path
        self.deadline = time.monotonic() + seconds
        self.started = time.monotonic()
        self.output = Output()
        self.killed_for = ""

        def limits() -> None:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        self.proc = subprocess.Popen(
            ["python3", "-u", path.name], cwd=path.parent, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=limits,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": "/tmp",
                 "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"})
        os.set_blocking(self.proc.stdout.fileno(), False)

    def _chunk(self) -> bytes | None:
        """What the pipe holds now: bytes, None (nothing yet) or b"" (closed)."""
        try:
            return self.proc.stdout.read(65536)
        except (OSError, ValueError):
            return b""

    def read(self) -> bool:
        """Take what the program printed; False once its output is closed."""
        data = self._chunk()
        if data:
            self.output.add(data)
            return True
        return data is None             # None: nothing now; b"": closed

    def drain(self) -> None:
        """Take what the program printed and the runner's loop has not read yet."""
        while data := self._chunk():
            self.output.add(data)

    def status(self) -> dict:
        pids = processes(self.proc.pid)     # none left: it has ended, if not yet reaped
        code = self.proc.poll()
        if code is not None:
            self.drain()                    # it may end before the loop reads its last words
        return {"running": code is None, "returncode": code, "killed_for": self.killed_for,
                "seconds": round(time.monotonic() - self.started, 3), "listening": listening(ignore=(PORT,)),
                "idle": code is None and bool(pids) and idle(pids),
                "output": self.output.text(), "output_bytes": self.output.total}

    def kill(self, reason: str, sweep: bool = True) -> None:
        """Kill the program's process group and, with *sweep*, every other process of this host."""
        if self.proc.poll() is None and not self.killed_for:
            self.killed_for = reason
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if sweep:
            kill_everything_but_me()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.drain()


def kill_everything_but_me() -> None:
    """SIGKILL every process of this host except PID 1 (tini) and the runner.

    This host runs nothing but the runner and students' programs, so this ends a program
    and whatever it started -- also children that left its process group.  SIGKILL again
    until none is left: a fork bomb keeps making new ones for a moment.
    """
    me = os.getpid()
    for _ in range(50):
        others = [int(p) for p in os.listdir("/proc")
                  if p.isdigit() and int(p) not in (1, me) and not _zombie(p)]
        if not others:
            return
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)


def _zombie(pid: str) -> bool:
    """Has the process ended, waiting only to be reaped (its parent: tini or the runner)?"""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


class Runner:
    """Serve the JSON-line protocol on *port*; run at most one student program at a time."""

    def __init__(self, port: int = PORT, workspace: Path = WORKSPACE, logger: logging.Logger | None = None,
                 sweep: bool = True) -> None:
        """*sweep*: kill every process of the host after a program (only on a host of its own);
        *logger*: where to log (default: the logger ``exercise-runner``)."""
        self.workspace = workspace
        self.sweep = sweep
        self.log = logger or logging.getLogger("exercise-runner")
        self.program: Program | None = None
        self.sock = socket.create_server(("", port), reuse_port=False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.sock, selectors.EVENT_READ, "accept")

    stopping = False

    def shutdown(self) -> None:
        """Make :meth:`serve_forever` return (within 0.2 s) and stop the program it runs."""
        self.stopping = True

    def server_close(self) -> None:
        self.stop_program("the runner stops")
        self.sock.close()

    def resolve(self, relative: str) -> Path:
        path = (self.workspace / relative).resolve()
        exercises = (self.workspace / "exercises").resolve()
        if exercises not in path.parents or path.suffix != ".py":
            raise ValueError(f"not a program of the exercises: {relative}")
        if not path.is_file():
            raise ValueError(f"no such file: {relative}")
        return path

    def handle(self, request: dict) -> dict:
        op = request.get("op")
        if op == "start":
            self.stop_program("replaced by a new program")
            path = self.resolve(str(request.get("path", "")))
            self.program = Program(path, float(request.get("seconds", 120)),
                                   int(request.get("memory", 256 << 20)), int(request.get("cpu", 60)))
            self.selector.register(self.program.proc.stdout, selectors.EVENT_READ, "output")
            self.log.info("started %s (pid %d)", path.relative_to(self.workspace), self.program.proc.pid)
            return {"ok": True, **self.program.status()}
        if op == "status":
            return {"ok": True, **(self.program.status() if self.program else {"running": False})}
        if op == "stop":
            if not self.program:
                return {"ok": True, "running": False}
            self.stop_program("stopped by the checker")
            return {"ok": True, **self.program.status()}
        raise ValueError(f"unknown op {op!r}")

    def stop_program(self, reason: str) -> None:
        if self.program is None:
            return
        self.forget_output(self.program.proc.stdout)
        self.program.kill(reason, self.sweep)
        self.log.info("%s: %s, exit status %s", self.program.path.name, reason, self.program.proc.returncode)

    def forget_output(self, pipe) -> None:
        try:
            self.selector.unregister(pipe)
        except (KeyError, ValueError):
            pass

    def on_output(self, pipe) -> None:
        """The program's output pipe is readable.  One select() can also report the pipe of a
        program that a request in the same round has just replaced: that one is stale."""
        if self.program is None or pipe is not self.program.proc.stdout:
            self.forget_output(pipe)
        elif not self.program.read():
            self.forget_output(pipe)

    def answer(self, conn: socket.socket) -> None:
        conn.settimeout(2.0)
        with conn:
            try:
                data = b""
                while b"\n" not in data and len(data) < REQUEST_LIMIT:
                    chunk = conn.recv(REQUEST_LIMIT)
                    if not chunk:
                        break
                    data += chunk
                reply = self.handle(json.loads(data.split(b"\n", 1)[0] or b"{}"))
            except (ValueError, TypeError, OSError) as exc:
                reply = {"ok": False, "error": str(exc)}
                self.log.info("refused a request: %s", exc)
            except Exception as exc:  # noqa: BLE001 - one bad start must not end the runner
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                self.log.info("request failed: %s: %s", type(exc).__name__, exc)
            try:
                conn.sendall(json.dumps(reply).encode() + b"\n")
            except OSError:
                pass

    def serve_forever(self) -> None:
        self.log.info("exercise runner on port %d; programs from %s (read-only)", self.sock.getsockname()[1],
                      self.workspace)
        while not self.stopping:
            for key, _ in self.selector.select(timeout=0.2):
                if key.data == "accept":
                    try:
                        conn, _addr = self.sock.accept()
                    except OSError:
                        continue
                    self.answer(conn)
                else:
                    self.on_output(key.fileobj)
            if self.program and self.program.proc.poll() is None and time.monotonic() > self.program.deadline:
                self.stop_program("time limit reached")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="exercise-runner", description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=PORT)
    p.add_argument("--workspace", type=Path, default=WORKSPACE)
    args = p.parse_args(argv)
    configure()
    runner = Runner(args.port, args.workspace)
    signal.signal(signal.SIGTERM, lambda *_: (kill_everything_but_me(), os._exit(0)))
    try:
        runner.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
