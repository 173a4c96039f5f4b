"""Checks of the FTP exercises (chapter part 2.1): an ftplib client and the bulk move.

Every check looks at what the student's program changed **on the FTP servers** (``ftp``,
``ftp-backup``), with the checker's own ftplib sessions: which files are there, their
sizes and SHA-256 checksums, which folders exist.  The checker prepares fresh random
files before each run, in folders of the student's home that belong to the exercises
only (``exercise-08/``, ``exercise-outbox/``, ``exercise-inbox/``), and clears them at the
start of every run; the seeded ``outbox/`` and ``/pub`` are never touched.

Whether a transfer used passive (``PASV``) or active mode (``PORT``) cannot be seen on the
lab's server from the client host, so that one check runs the program a second time
against a small recording FTP server (pyftpdlib, in a thread of the checker), to which
the address ``ftp:21`` is redirected for that run only.
"""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import io
import os
import posixpath
import random
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from socklab.i18n import N_, _
from socklab.check.framework import (CheckFailed, ClientRun, ClientTask, Context, check, finished, no_traceback,
                                     shorten, token)

PORT = 21
USER = os.environ.get("FTP_USER", "student")
PASSWORD = os.environ.get("FTP_PASSWORD", "password")
TIMEOUT = 10.0
RUN_TIMEOUT = 20.0


# --------------------------------------------------------------------------- helpers

def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def binary(size: int) -> bytes:
    """Random bytes with line ends of every kind inside, so a text-mode transfer changes them."""
    rnd = random.SystemRandom()
    data = bytearray(rnd.randbytes(size))
    for _n in range(max(4, size // 256)):
        at = rnd.randrange(0, len(data) - 2)
        data[at:at + 2] = rnd.choice([b"\r\n", b"\n\n", b"\r\r"])
    at = rnd.randrange(0, len(data) - 2)
    data[at:at + 2] = b"\r\n"          # at least one: storlines() and TYPE A change it
    return bytes(data)


def text(lines: int = 3) -> bytes:
    return "".join(f"{token(6)} {token(10)} 文件 {token(4)}\n" for _n in range(lines)).encode("utf-8")


def session(host: str) -> ftplib.FTP:
    """The checker's own session on *host* as the exercise account, or a clear CheckFailed."""
    try:
        ftp = ftplib.FTP(host, timeout=TIMEOUT)
    except (OSError, EOFError) as exc:
        raise CheckFailed(_("the FTP server {host} to answer").format(host=host),
                          _("connecting failed: {error}; is the lab up? (make lab)").format(error=exc), "")
    try:
        ftp.login(USER, PASSWORD)
    except (ftplib.Error, OSError, EOFError) as exc:
        with contextlib.suppress(Exception):
            ftp.close()
        raise CheckFailed(_("a login as {user} on {host}").format(user=USER, host=host),
                          _("it failed: {error}").format(error=exc), "")
    return ftp


@contextlib.contextmanager
def sessions(*hosts: str):
    opened = []
    try:
        for host in hosts:
            opened.append(session(host))
        yield opened
    except (ftplib.Error, OSError, EOFError) as exc:
        raise CheckFailed(_("the checker's own FTP session to work"),
                          _("it failed: {error}").format(error=f"{type(exc).__name__}: {exc}"), "") from None
    finally:
        for ftp in opened:
            try:
                ftp.quit()
            except Exception:  # noqa: BLE001 - the server may have dropped us; close anyway
                ftp.close()


def entries(ftp: ftplib.FTP, path: str) -> dict[str, str] | None:
    """``{name: "file"|"dir"}`` in *path* (MLSD), or None if *path* is no folder."""
    try:
        return {name: facts.get("type", "file") for name, facts in ftp.mlsd(path, ["type"])
                if name not in (".", "..") and facts.get("type") in ("file", "dir")}
    except ftplib.error_perm:
        return None


def rmtree(ftp: ftplib.FTP, path: str) -> None:
    """Remove *path* and everything under it; nothing if it does not exist."""
    found = entries(ftp, path)
    if found is None:
        with contextlib.suppress(ftplib.error_perm):
            ftp.delete(path)
        return
    for name, kind in found.items():
        child = posixpath.join(path, name)
        if kind == "dir":
            rmtree(ftp, child)
        else:
            ftp.delete(child)
    ftp.rmd(path)


def put(ftp: ftplib.FTP, path: str, data: bytes) -> None:
    ftp.storbinary(f"STOR {path}", io.BytesIO(data))


def get(ftp: ftplib.FTP, path: str) -> bytes:
    out = io.BytesIO()
    ftp.retrbinary(f"RETR {path}", out.write)
    return out.getvalue()


def snapshot(ftp: ftplib.FTP, path: str) -> dict[str, str]:
    """Everything under *path*: ``{relative path: "dir" or the file's SHA-256}``."""
    found: dict[str, str] = {}

    def walk(folder: str, prefix: str) -> None:
        for name, kind in sorted((entries(ftp, folder) or {}).items()):
            rel = prefix + name
            if kind == "dir":
                found[rel] = "dir"
                walk(posixpath.join(folder, name), rel + "/")
            else:
                found[rel] = sha256(get(ftp, posixpath.join(folder, name)))
    walk(path, "")
    return found


def describe(state: dict[str, str], names: list[str] | None = None) -> str:
    shown = sorted(names if names is not None else state)
    return ", ".join(shown) if shown else _("nothing")


def program_ended(run: ClientRun) -> str:
    """A few words on how the run ended, for a 'seen' message."""
    if run.timed_out:
        return _("(your program was stopped after {s:g} s)").format(s=RUN_TIMEOUT)
    if run.traceback:
        lines = [line for line in run.stderr.strip().splitlines() if line.strip()]
        return _("(your program ended with a traceback: {line})").format(line=shorten(lines[-1], 160))
    return ""


# --------------------------------------------------------------------------- a recording FTP server

class Recorder:
    """A pyftpdlib server on 127.0.0.1 in a thread, recording every command and its folder.

    The exercise account logs in to *home*.  ``commands`` lists ``(command, ftp path)``
    in the order they came, per session (a session is a list of its own).
    """

    def __init__(self, home: Path) -> None:
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.ioloop import IOLoop
        from pyftpdlib.servers import FTPServer

        from socklab.services.ftp.server import LabCommands     # the lab server's HASH command

        self.sessions: list[list[tuple[str, str]]] = []
        recorder = self

        class Handler(LabCommands, FTPHandler):
            proto_cmds = {**FTPHandler.proto_cmds, **LabCommands.extra_cmds}

            def on_connect(self):
                self.recorded = []
                recorder.sessions.append(self.recorded)
                super().on_connect()

            def pre_process_command(self, line, cmd, arg):
                where = ""
                if self.fs is not None:
                    try:
                        where = self.fs.ftpnorm(arg) if arg and cmd in TRANSFERS else self.fs.cwd
                    except Exception:  # noqa: BLE001 - a strange argument is recorded without a path
                        where = self.fs.cwd
                getattr(self, "recorded", []).append((cmd, where))
                super().pre_process_command(line, cmd, arg)

        authorizer = DummyAuthorizer()
        authorizer.add_user(USER, PASSWORD, str(home), perm="elradfmwMT")
        Handler.authorizer = authorizer
        Handler.banner = "socklab lab-check recording FTP server ready."
        Handler.timeout = 60
        Handler.auth_failed_timeout = 0.2
        self.server = FTPServer(("127.0.0.1", 0), Handler, ioloop=IOLoop())
        self.port = self.server.address[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                self.server.serve_forever(timeout=0.1, blocking=False, handle_exit=False)
        finally:
            self.server.close_all()

    def __enter__(self) -> "Recorder":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def transfers(self) -> list[tuple[str, str, str]]:
        """``(command, path, mode)`` of every data transfer: mode is passive, active or none."""
        found = []
        for recorded in self.sessions:
            mode = "none"
            for cmd, where in recorded:
                if cmd in ("PASV", "EPSV"):
                    mode = "passive"
                elif cmd in ("PORT", "EPRT"):
                    mode = "active"
                elif cmd in TRANSFERS:
                    found.append((cmd, where, mode))
                    mode = "none"
        return found


TRANSFERS = ("LIST", "NLST", "MLSD", "RETR", "STOR", "STOU", "APPE")


# --------------------------------------------------------------------------- 08-ftp-client

FOLDER = "exercise-08"
MODES = ("passive", "active")
UPLOAD = "upload.bin"


@dataclass
class Prepared:
    """What the checker put on a server and in the program's folder for one run of 08."""
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)    # mode -> name -> content
    listed: dict[str, str] = field(default_factory=dict)                # mode -> a random file's name
    upload: bytes = b""


def prepare_08(rnd) -> Prepared:
    p = Prepared(upload=binary(rnd.randint(12_000, 20_000)))
    for mode in MODES:
        p.listed[mode] = f"list-{token(8)}.txt"
        p.files[mode] = {"download.bin": binary(rnd.randint(8_000, 16_000)), "old.txt": text(),
                         "delete-me.txt": text(1), p.listed[mode]: text(1)}
    return p


def lay_out_on_server(ftp: ftplib.FTP, p: Prepared) -> None:
    rmtree(ftp, FOLDER)
    ftp.mkd(FOLDER)
    for mode in MODES:
        folder = f"{FOLDER}/{mode}"
        ftp.mkd(folder)
        ftp.mkd(f"{folder}/remove-me")
        for name, data in p.files[mode].items():
            put(ftp, f"{folder}/{name}", data)


def lay_out_locally(home: Path, p: Prepared) -> None:
    for mode in MODES:
        folder = home / FOLDER / mode
        (folder / "remove-me").mkdir(parents=True)
        for name, data in p.files[mode].items():
            (folder / name).write_bytes(data)


@dataclass
class MainRun:
    prepared: Prepared
    run: ClientRun
    server: dict[str, str]      # snapshot of exercise-08/ after the run
    local: dict[str, str]       # SHA-256 of the files in the program's folder after the run


class FtpClient(ClientTask):
    name = "08-ftp-client"
    program = "client.py"
    section = "2.1.3"
    title = N_("an ftplib client: list, download, upload, rename, delete, mkd/rmd, passive and active")

    def main(self, ctx: Context) -> MainRun:
        """Prepare fresh files, run the program once against ``ftp``, look at the result (once per run)."""
        return self.once("main", lambda: self.main_run(ctx))

    def main_run(self, ctx: Context) -> MainRun:
        p = prepare_08(ctx.random)
        with sessions("ftp") as (ftp,):
            lay_out_on_server(ftp, p)
        folder = ctx.scratch / "main"
        folder.mkdir()
        (folder / UPLOAD).write_bytes(p.upload)
        run = ctx.run_client(timeout=RUN_TIMEOUT, cwd=folder)
        with sessions("ftp") as (ftp,):
            server = snapshot(ftp, FOLDER)
        local = {f.name: sha256(f.read_bytes()) for f in folder.iterdir() if f.is_file()}
        return MainRun(p, run, server, local)

    def fail(self, m: MainRun, expected: str, seen: str) -> None:
        ended = program_ended(m.run)
        raise CheckFailed(expected, f"{seen} {ended}".strip(), m.run.output)

    @check(N_("dir() shows the listing of both folders"),
           hint=N_("After login() and cwd(), call dir() (it prints the LIST output itself) in each pass."))
    def listing(self, ctx) -> None:
        m = self.main(ctx)
        missing = [f"{FOLDER}/{mode}/{m.prepared.listed[mode]}" for mode in MODES
                   if m.prepared.listed[mode] not in m.run.stdout]
        if missing:
            self.fail(m, _("the listing of {folder}/passive and {folder}/active printed, with the files "
                           "the checker just made").format(folder=FOLDER),
                      _("not printed: {names}").format(names=", ".join(missing)))

    @check(N_("download.bin is downloaded byte for byte in both passes"),
           hint=N_("Download binary files with retrbinary('RETR download.bin', f.write) into a file opened "
                   "with 'wb'; retrlines() is for text and changes the bytes."))
    def download(self, ctx) -> None:
        m = self.main(ctx)
        for mode in MODES:
            local = f"{mode}-download.bin"
            want = sha256(m.prepared.files[mode]["download.bin"])
            if local not in m.local:
                self.fail(m, _("the file {local} in the program's folder, a copy of {remote}").format(
                              local=local, remote=f"{FOLDER}/{mode}/download.bin"),
                          _("there is no such file"))
            if m.local[local] != want:
                self.fail(m, _("{local} with the same bytes (SHA-256) as {remote}").format(
                              local=local, remote=f"{FOLDER}/{mode}/download.bin"),
                          _("the bytes differ"))

    @check(N_("upload.bin is uploaded byte for byte in both passes"),
           hint=N_("Upload binary files with storbinary('STOR upload.bin', f) and a file opened with 'rb': "
                   "storlines() sends text and changes the line ends of binary data."))
    def upload(self, ctx) -> None:
        m = self.main(ctx)
        want = sha256(m.prepared.upload)
        for mode in MODES:
            remote = f"{mode}/{UPLOAD}"
            got = m.server.get(remote)
            if got is None:
                self.fail(m, _("{remote} on the server, a copy of the local {local}").format(
                              remote=f"{FOLDER}/{remote}", local=UPLOAD),
                          _("there is no such file on ftp"))
            if got != want:
                self.fail(m, _("{remote} with the same bytes (SHA-256) as the local {local}").format(
                              remote=f"{FOLDER}/{remote}", local=UPLOAD),
                          _("the bytes differ: uploaded in text mode (storlines)?"))

    @check(N_("old.txt is renamed to new.txt and delete-me.txt is deleted, in both folders"),
           hint=N_("rename('old.txt', 'new.txt') and delete('delete-me.txt'), after cwd() into the folder."))
    def rename_delete(self, ctx) -> None:
        m = self.main(ctx)
        for mode in MODES:
            where = f"{FOLDER}/{mode}"
            old = m.prepared.files[mode]["old.txt"]
            if f"{mode}/old.txt" in m.server:
                self.fail(m, _("{where}/old.txt renamed to new.txt").format(where=where),
                          _("{where}/old.txt is still there").format(where=where))
            if m.server.get(f"{mode}/new.txt") != sha256(old):
                self.fail(m, _("{where}/new.txt with the content old.txt had").format(where=where),
                          _("no such file") if f"{mode}/new.txt" not in m.server else _("another content"))
            if f"{mode}/delete-me.txt" in m.server:
                self.fail(m, _("{where}/delete-me.txt deleted").format(where=where),
                          _("it is still there"))

    @check(N_("mkd() makes new-dir and rmd() removes remove-me, in both folders"),
           hint=N_("mkd('new-dir') makes a folder on the server; rmd('remove-me') removes an empty one."))
    def mkd_rmd(self, ctx) -> None:
        m = self.main(ctx)
        for mode in MODES:
            where = f"{FOLDER}/{mode}"
            if m.server.get(f"{mode}/new-dir") != "dir":
                self.fail(m, _("a folder {where}/new-dir").format(where=where), _("there is none"))
            if f"{mode}/remove-me" in m.server:
                self.fail(m, _("{where}/remove-me removed").format(where=where), _("it is still there"))

    @check(N_("the first pass uses passive mode, the second active mode (PORT)"),
           hint=N_("ftplib is passive by default; call set_pasv(False) before the second pass so that the "
                   "server opens the data connections (active mode, section 2.1.2)."))
    def both_modes(self, ctx) -> None:
        p = prepare_08(ctx.random)
        home = Path(tempfile.mkdtemp(prefix="ftp-home-", dir=ctx.scratch))
        lay_out_locally(home, p)
        folder = ctx.scratch / "modes"
        folder.mkdir()
        (folder / UPLOAD).write_bytes(p.upload)
        with Recorder(home) as rec:
            run = ctx.run_client(timeout=RUN_TIMEOUT, cwd=folder, redirect={f"ftp:{PORT}": f"127.0.0.1:{rec.port}"})
        transfers = rec.transfers()
        ended = program_ended(run)
        for mode in MODES:
            prefix = f"/{FOLDER}/{mode}"
            mine = [(cmd, m) for cmd, where, m in transfers if where == prefix or where.startswith(prefix + "/")]
            if not mine:
                raise CheckFailed(_("data transfers (LIST, RETR, STOR) in {folder}").format(folder=prefix),
                                  f"{_('none')} {ended}".strip(), run.output)
            wrong = [cmd for cmd, m in mine if m != mode]
            if wrong:
                seen = ", ".join(f"{cmd} ({m})" for cmd, m in mine)
                word = _("passive mode (PASV)") if mode == "passive" else _("active mode (PORT)")
                raise CheckFailed(_("every transfer in {folder} in {mode}").format(folder=prefix, mode=word),
                                  f"{seen} {ended}".strip(), run.output)


# --------------------------------------------------------------------------- 09-ftp-move

SOURCE, SOURCE_DIR = "ftp", "exercise-outbox"
TARGET, TARGET_DIR = "ftp-backup", "exercise-inbox"


@dataclass
class MoveRun:
    matching: dict[str, bytes]
    others: dict[str, bytes]
    run: ClientRun
    source: dict[str, str]
    target: dict[str, str]


def prepare_09(rnd, matching: int = 4) -> tuple[dict[str, bytes], dict[str, bytes]]:
    stamp = token(4)
    match = {f"obs-{stamp}-{i:03d}-{token(4)}.dat": binary(rnd.randint(1_500, 4_000)) for i in range(matching)}
    others = {f"notes-{token(5)}.txt": text(2), f"obs-{token(5)}.dat.bak": binary(1_000),
              f"dat-{token(5)}.csv": text(2)}
    return match, others


def lay_out_move(src: ftplib.FTP, dst: ftplib.FTP, files: dict[str, bytes], blocked: str | None = None) -> None:
    rmtree(src, SOURCE_DIR)
    rmtree(dst, TARGET_DIR)
    src.mkd(SOURCE_DIR)
    dst.mkd(TARGET_DIR)
    for name, data in files.items():
        put(src, f"{SOURCE_DIR}/{name}", data)
    if blocked:
        dst.mkd(f"{TARGET_DIR}/{blocked}")


class FtpMove(ClientTask):
    name = "09-ftp-move"
    program = "move.py"
    section = "2.1.4"
    title = N_("move the files that match a pattern from one FTP server to another")

    def move(self, ctx: Context, blocked: bool = False) -> MoveRun:
        match, others = prepare_09(ctx.random)
        blocked_name = sorted(match)[0] if blocked else None
        with sessions(SOURCE, TARGET) as (src, dst):
            lay_out_move(src, dst, {**match, **others}, blocked_name)
        run = ctx.run_client(timeout=RUN_TIMEOUT)
        with sessions(SOURCE, TARGET) as (src, dst):
            source, target = snapshot(src, SOURCE_DIR), snapshot(dst, TARGET_DIR)
        return MoveRun(match, others, run, source, target)

    def first(self, ctx: Context) -> MoveRun:
        return self.once("first", lambda: self.move(ctx))

    def fail(self, m: MoveRun, expected: str, seen: str) -> None:
        raise CheckFailed(expected, f"{seen} {program_ended(m.run)}".strip(), m.run.output)

    @check(N_("every *.dat file is on ftp-backup, byte for byte, and gone from ftp"),
           hint=N_("List the source folder (nlst), pick the names with fnmatch, copy each one in binary "
                   "(retrbinary to storbinary), then delete() it at the source."))
    def moves_matching(self, ctx) -> None:
        m = self.first(ctx)
        missing = [n for n in sorted(m.matching) if n not in m.target]
        if missing:
            self.fail(m, _("every *.dat file of {src} in {dst}").format(
                          src=f"{SOURCE}:{SOURCE_DIR}", dst=f"{TARGET}:{TARGET_DIR}"),
                      _("missing there: {names}").format(names=", ".join(missing)))
        changed = [n for n in sorted(m.matching) if m.target[n] != sha256(m.matching[n])]
        if changed:
            self.fail(m, _("the copies with the same bytes (SHA-256) as the originals"),
                      _("these differ: {names} (copied in text mode?)").format(names=", ".join(changed)))
        left = [n for n in sorted(m.matching) if n in m.source]
        if left:
            self.fail(m, _("the moved files deleted at the source {src}").format(src=f"{SOURCE}:{SOURCE_DIR}"),
                      _("still there: {names}").format(names=", ".join(left)))

    @check(N_("files that do not match stay on ftp, and nothing else appears on ftp-backup"),
           hint=N_("Move only the names that match the pattern (fnmatch.fnmatch(name, PATTERN)), under "
                   "their own names, and leave no temporary files on the target."))
    def leaves_others(self, ctx) -> None:
        m = self.first(ctx)
        gone = [n for n in sorted(m.others) if m.source.get(n) != sha256(m.others[n])]
        if gone:
            self.fail(m, _("the files that do not match *.dat left unchanged on {src}").format(
                          src=f"{SOURCE}:{SOURCE_DIR}"),
                      _("gone or changed: {names}").format(names=", ".join(gone)))
        extra = [n for n in sorted(m.target) if n not in m.matching]
        if extra:
            self.fail(m, _("only the *.dat files in {dst}").format(dst=f"{TARGET}:{TARGET_DIR}"),
                      _("also there: {names}").format(names=", ".join(extra)))

    @check(N_("a second run changes nothing"),
           hint=N_("When no file matches, the program has nothing to do: it must not fail or copy anything "
                   "again."))
    def second_run(self, ctx) -> None:
        m = self.first(ctx)
        if any(n in m.source or n not in m.target for n in m.matching):
            self.fail(m, _("a first run that moves the *.dat files, then a second one"),
                      _("the first run did not move them all"))
        run = ctx.run_client(timeout=RUN_TIMEOUT)
        with sessions(SOURCE, TARGET) as (src, dst):
            source, target = snapshot(src, SOURCE_DIR), snapshot(dst, TARGET_DIR)
        finished(run, RUN_TIMEOUT)
        no_traceback(run)
        if (source, target) != (m.source, m.target):
            raise CheckFailed(_("the same files on both servers as after the first run"),
                              _("{src}: {a}; {dst}: {b}").format(src=SOURCE, a=describe(source),
                                                                 dst=TARGET, b=describe(target)), run.output)

    @check(N_("a file that cannot be stored on the target stays at the source"),
           hint=N_("Delete a source file only after its copy succeeded: storbinary() raises ftplib.error_perm "
                   "on a 550 reply; catch it, report the file and go on with the next one."))
    def keeps_source_on_failure(self, ctx) -> None:
        m = self.move(ctx, blocked=True)
        blocked = sorted(m.matching)[0]
        if m.source.get(blocked) != sha256(m.matching[blocked]):
            self.fail(m, _("{name} kept at the source: on {dst} a folder of that name makes its STOR fail "
                           "(550)").format(name=blocked, dst=TARGET),
                      _("it was deleted at the source: the file is lost") if blocked not in m.source
                      else _("it was changed at the source"))
        finished(m.run, RUN_TIMEOUT)
        no_traceback(m.run)
        others = [n for n in sorted(m.matching) if n != blocked]
        not_moved = [n for n in others if m.target.get(n) != sha256(m.matching[n]) or n in m.source]
        if not_moved:
            self.fail(m, _("the other *.dat files moved although {name} failed").format(name=blocked),
                      _("not moved: {names}").format(names=", ".join(not_moved)))
