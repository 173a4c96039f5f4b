"""``ftp-client``: the chapter's ftplib methods, one subcommand each (default server ``ftp``).

Every run is one FTP session -- connect, ``login()``, the subcommand, ``quit()`` -- and each
subcommand is one method of :class:`ftplib.FTP`::

    ftplib method               ftp-client                       on the control connection
    login(user, passwd)         every subcommand (-u, -p)        USER, PASS
    pwd()                       pwd                              PWD
    cwd(path)                   cd PATH     (or --cd PATH)       CWD
    dir(path, cb)               ls [PATH]                        PASV|PORT, LIST
    nlst(path)                  nlst [PATH]                      PASV|PORT, NLST
    retrlines(cmd, cb)          cat PATH                         TYPE A, RETR
    retrbinary(cmd, cb)         get REMOTE [LOCAL]               TYPE I, RETR
    storbinary(cmd, f)          put LOCAL [REMOTE]               TYPE I, STOR
    storlines(cmd, f)           put --text LOCAL [REMOTE]        TYPE A, STOR
    rename(old, new)            mv OLD NEW                       RNFR, RNTO
    delete(path)                rm PATH                          DELE
    mkd(path)                   mkdir PATH                       MKD
    rmd(path)                   rmdir PATH                       RMD
    size(path)                  size PATH                        SIZE
    sendcmd('HASH path')        hash PATH                        HASH  (a checksum made by the server)
    quit()                      always, at the end               QUIT

``ftp-client shell`` keeps one session open and reads these subcommands line by line (so
``cd`` matters there), like the classic ``ftp`` program::

    $ ftp-client shell
    ftp> cd pub/tree
    ftp> ls
    ftp> quit

Options that change how the session is made:

* ``-u/--user`` and ``-p/--password`` (default ``anonymous``; a named account's password
  comes from ``FTP_PASSWORD`` or is asked for);
* ``--active``/``--passive`` -- who opens the data connection (passive by default);
* ``--tls`` -- ``AUTH TLS`` before logging in and ``PROT P`` after, so the password and
  the data are encrypted; the server's certificate is verified against the lab CA;
* ``--trace`` -- the control connection, command by command (``set_debuglevel``), on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import ftplib
import hashlib
import os
import posixpath
import shlex
import sys
import time

from socklab import cli
from socklab.clients.ftp_common import (BLOCK, PORT, add_session_args, close_session, features, ftp_errors,
                                        hash_algorithms, human_bytes, open_session, password_for, rate)
from socklab.i18n import _

# --------------------------------------------------------------------------- shown while transferring

class Progress:
    """A one-line progress bar on stderr: ``name [#####.....] 45%  3.6 MB of 8.0 MB  12.3 MB/s``.

    It redraws at most ten times a second and only when enabled (by default: when stderr is
    a terminal), so logs and pipes are not filled with carriage returns.
    """

    width = 30

    def __init__(self, label: str, total: int | None, enabled: bool, stream=None) -> None:
        self.label, self.total, self.enabled = label, total, enabled
        self.stream = stream or sys.stderr
        self.done_bytes = 0
        self.started = time.monotonic()
        self._last = 0.0

    def update(self, n: int) -> None:
        self.done_bytes += n
        now = time.monotonic()
        if self.enabled and now - self._last >= 0.1:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = now - self.started
        if self.total:
            frac = min(self.done_bytes / self.total, 1.0)
            bar = "#" * int(frac * self.width) + "." * (self.width - int(frac * self.width))
            text = (f"{self.label} [{bar}] {frac:4.0%}  {human_bytes(self.done_bytes)} of "
                    f"{human_bytes(self.total)}  {rate(self.done_bytes, elapsed)}")
        else:
            text = f"{self.label}  {human_bytes(self.done_bytes)}  {rate(self.done_bytes, elapsed)}"
        print("\r" + text + "\033[K", end="", file=self.stream, flush=True)

    def finish(self) -> float:
        """Draw the final state, end the line; return the elapsed seconds."""
        now = time.monotonic()
        if self.enabled:
            self._draw(now)
            print(file=self.stream, flush=True)
        return now - self.started


def server_hash(ftp: ftplib.FTP, path: str, algorithm: str = "SHA-256") -> str:
    """The server's checksum of *path* (``OPTS HASH`` + ``HASH``), as lowercase hex."""
    ftp.sendcmd(f"OPTS HASH {algorithm}")
    reply = ftp.sendcmd(f"HASH {path}")      # 213 SHA-256 0-1955 <hex> /pub/README.txt
    parts = reply.split(" ", 4)
    if len(parts) < 4 or parts[0] != "213":
        raise ftplib.error_reply(reply)
    return parts[3].lower()


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(BLOCK):
            h.update(chunk)
    return h.hexdigest()


def remote_size(ftp: ftplib.FTP, path: str) -> int | None:
    """SIZE in binary mode, or None if the server does not say."""
    try:
        ftp.voidcmd("TYPE I")
        return ftp.size(path)
    except ftplib.error_perm:
        return None


# --------------------------------------------------------------------------- the subcommands

class Commands:
    """The subcommands, run on one open session; *out* is where results are printed."""

    def __init__(self, ftp: ftplib.FTP, args: argparse.Namespace, out) -> None:
        self.ftp, self.args, self.out = ftp, args, out
        self.where = f"{args.host}:{args.port}"

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def progress(self, label: str, total: int | None) -> Progress:
        enabled = self.args.progress if self.args.progress is not None else sys.stderr.isatty()
        return Progress(label, total, enabled and not self.args.trace)

    # --- navigation and listings

    def do_pwd(self, a) -> None:
        self.say(self.ftp.pwd())

    def do_cd(self, a) -> None:
        self.ftp.cwd(a.path)
        self.say(self.ftp.pwd())

    def do_ls(self, a) -> None:
        self.ftp.dir(*([a.path] if a.path else []), self.say)

    def do_nlst(self, a) -> None:
        for name in self.ftp.nlst(*([a.path] if a.path else [])):
            self.say(name)

    def do_size(self, a) -> None:
        self.ftp.voidcmd("TYPE I")
        self.say(str(self.ftp.size(a.path)))

    def do_hash(self, a) -> None:
        if a.algorithm.upper() not in hash_algorithms(self.ftp):
            raise cli.ClientError(_("{where} does not offer HASH {algorithm}").format(where=self.where, algorithm=a.algorithm))
        self.say(f"{server_hash(self.ftp, a.path, a.algorithm.upper())}  {a.path}")

    def do_feat(self, a) -> None:
        for feat in features(self.ftp):
            self.say(feat)

    # --- transfers

    def do_cat(self, a) -> None:
        """retrlines: the file as text lines (TYPE A: CR LF on the wire, lines here)."""
        try:
            self.ftp.retrlines(f"RETR {a.path}", self.say)
        except UnicodeDecodeError:
            # ftplib closed the data connection half-read; take the server's reply to that
            # (226 or 426) so that the session can go on
            with contextlib.suppress(ftplib.Error):
                self.ftp.getresp()
            raise cli.ClientError(_("{path} is not UTF-8 text; fetch it with get").format(path=a.path)) from None

    def do_get(self, a) -> None:
        remote = a.remote
        to_stdout = a.local == "-"
        local = a.local or posixpath.basename(remote.rstrip("/"))
        if not to_stdout and os.path.isdir(local):
            local = os.path.join(local, posixpath.basename(remote))
        size = remote_size(self.ftp, remote)
        # a device such as /dev/null is written to as it is; a file is fetched into
        # LOCAL.part and renamed when complete, so LOCAL is never half a file
        device = not to_stdout and os.path.exists(local) and not os.path.isfile(local)
        if to_stdout:
            sink, part, offset = sys.stdout.buffer, None, 0
        else:
            part = local if device else local + ".part"
            offset = os.path.getsize(part) if a.resume and not device and os.path.exists(part) else 0
            try:
                sink = open(part, "ab" if offset else "wb")
            except OSError as exc:
                raise cli.ClientError(_("cannot write {file}: {reason}").format(file=part, reason=exc.strerror)) from None
        bar = self.progress(posixpath.basename(remote), size)
        bar.done_bytes = offset
        received = 0
        try:
            if a.text:
                def line(text: str) -> None:
                    nonlocal received
                    data = (text + "\n").encode("latin-1")
                    sink.write(data)
                    received += len(data)
                    bar.update(len(data))
                # ASCII mode changes line ends only: latin-1 keeps every other byte as it is
                self.ftp.encoding = "latin-1"
                try:
                    self.ftp.retrlines(f"RETR {remote}", line)
                finally:
                    self.ftp.encoding = "utf-8"
            else:
                def block(data: bytes) -> None:
                    nonlocal received
                    sink.write(data)
                    received += len(data)
                    bar.update(len(data))
                self.ftp.retrbinary(f"RETR {remote}", block, blocksize=BLOCK, rest=offset or None)
        except BaseException:
            if not to_stdout:
                sink.close()
                if not device and os.path.getsize(part) == 0:   # nothing came: no empty LOCAL.part
                    os.remove(part)
            raise
        if not to_stdout:
            sink.close()
        seconds = bar.finish()
        if to_stdout:
            sys.stdout.buffer.flush()
            return
        total = offset + received
        if not a.text and size is not None and total != size:
            raise cli.ClientError(_("{remote}: got {total} bytes of {size}; kept {part} (try --resume)").format(
                remote=remote, total=total, size=size, part=part))
        if a.verify:
            self.verify(remote, part)
        if not device:
            os.replace(part, local)
        resumed = _(", resumed at {offset}").format(offset=offset) if offset else ""
        self.say(_("{src} -> {dst}: {size} bytes in {seconds:.2f} s ({rate}{resumed})").format(
            src=remote, dst=local, size=total, seconds=seconds, rate=rate(received, seconds), resumed=resumed))

    def do_put(self, a) -> None:
        local = a.local
        remote = a.remote or os.path.basename(local)
        if not os.path.isfile(local):
            raise cli.ClientError(_("{local}: no such local file").format(local=local))
        if not os.access(local, os.R_OK):
            raise cli.ClientError(_("{local}: not readable").format(local=local))
        size = os.path.getsize(local)
        offset = 0
        if a.resume:
            offset = remote_size(self.ftp, remote) or 0
            if offset > size:
                raise cli.ClientError(_("{remote} on the server is larger than {local}; not resuming").format(remote=remote, local=local))
        bar = self.progress(os.path.basename(local), size)
        bar.done_bytes = offset
        with open(local, "rb") as f:
            if a.text:
                self.ftp.storlines(f"STOR {remote}", f, lambda line: bar.update(len(line)))
            else:
                f.seek(offset)
                self.ftp.storbinary(f"STOR {remote}", f, BLOCK, lambda data: bar.update(len(data)),
                                    rest=offset or None)
        seconds = bar.finish()
        if not a.text:
            stored = remote_size(self.ftp, remote)
            if stored is not None and stored != size:
                raise cli.ClientError(_("{remote}: the server has {stored} bytes, {local} has {size}").format(
                    remote=remote, stored=stored, local=local, size=size))
        if a.verify:
            self.verify(remote, local)
        resumed = _(", resumed at {offset}").format(offset=offset) if offset else ""
        self.say(_("{src} -> {dst}: {size} bytes in {seconds:.2f} s ({rate}{resumed})").format(
            src=local, dst=remote, size=size, seconds=seconds, rate=rate(size - offset, seconds), resumed=resumed))

    def verify(self, remote: str, local: str) -> None:
        """Compare the server's SHA-256 of *remote* (HASH) with that of the *local* file."""
        if "SHA-256" not in hash_algorithms(self.ftp):
            raise cli.ClientError("--verify: " + _("{where} does not offer HASH {algorithm}").format(where=self.where, algorithm="SHA-256"))
        theirs, ours = server_hash(self.ftp, remote), file_sha256(local)
        if theirs != ours:
            raise cli.ClientError(_("{remote}: checksums differ (server {theirs}, here {ours})").format(remote=remote, theirs=theirs, ours=ours))
        self.say(_("verified: SHA-256 {digest}").format(digest=ours))

    # --- changing the server's files

    def do_mv(self, a) -> None:
        self.say(self.ftp.rename(a.old, a.new))

    def do_rm(self, a) -> None:
        self.say(self.ftp.delete(a.path))

    def do_mkdir(self, a) -> None:
        self.say(self.ftp.mkd(a.path))

    def do_rmdir(self, a) -> None:
        self.say(self.ftp.rmd(a.path))

    def run(self, a) -> None:
        with ftp_errors(self.where, a.command):
            getattr(self, "do_" + a.handler)(a)


def add_commands(sub) -> None:
    """The subcommands, for the command line and for ``shell`` alike."""

    def cmd(name, handler, help, aliases=()):
        p = sub.add_parser(name, help=help, aliases=list(aliases), description=help)
        p.set_defaults(handler=handler, command=name)
        return p

    cmd("pwd", "pwd", _("print the current directory (pwd)"))
    cmd("cd", "cd", _("change directory (cwd) and print the new one")).add_argument("path")
    cmd("ls", "ls", _("list a directory in long form (dir: LIST)"), ["dir"]).add_argument("path", nargs="?")
    cmd("nlst", "nlst", _("list names only (nlst: NLST)")).add_argument("path", nargs="?")
    cmd("cat", "cat", _("print a text file (retrlines: TYPE A + RETR)")).add_argument("path")
    p = cmd("get", "get", _("download a file (retrbinary: TYPE I + RETR)"))
    p.add_argument("remote")
    p.add_argument("local", nargs="?", help=_("file or directory to save to ('-': standard output)"))
    p.add_argument("--text", action="store_true", help=_("ASCII mode, line by line (retrlines)"))
    p.add_argument("--resume", action="store_true", help=_("continue LOCAL.part from where it stopped (REST)"))
    p.add_argument("--verify", action="store_true", help=_("compare SHA-256 with the server's HASH"))
    p = cmd("put", "put", _("upload a file (storbinary: TYPE I + STOR)"))
    p.add_argument("local")
    p.add_argument("remote", nargs="?")
    p.add_argument("--text", action="store_true", help=_("ASCII mode, line by line (storlines)"))
    p.add_argument("--resume", action="store_true", help=_("continue a partial upload (REST + STOR)"))
    p.add_argument("--verify", action="store_true", help=_("compare SHA-256 with the server's HASH"))
    p = cmd("mv", "mv", _("rename a file or directory (rename: RNFR + RNTO)"), ["rename"])
    p.add_argument("old")
    p.add_argument("new")
    cmd("rm", "rm", _("delete a file (delete: DELE)"), ["delete"]).add_argument("path")
    cmd("mkdir", "mkdir", _("make a directory (mkd: MKD)")).add_argument("path")
    cmd("rmdir", "rmdir", _("remove an empty directory (rmd: RMD)")).add_argument("path")
    cmd("size", "size", _("size of a file in bytes (SIZE)")).add_argument("path")
    p = cmd("hash", "hash", _("the server's checksum of a file (HASH)"))
    p.add_argument("path")
    p.add_argument("--algorithm", default="SHA-256", help=_("SHA-256 (default), SHA-512, SHA-1 or MD5"))
    cmd("feat", "feat", _("what the server supports beyond RFC 959 (FEAT)"))


def shell(cmds: Commands, parser: argparse.ArgumentParser) -> int:
    """Read subcommands line by line on one session; return the number that failed."""
    interactive = sys.stdin.isatty()
    failed = 0
    while True:
        try:
            line = input("ftp> ") if interactive else sys.stdin.readline()
        except EOFError:
            break
        if not interactive and not line:
            break
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] in ("quit", "exit", "bye"):
            break
        if words[0] in ("help", "?"):
            parser.print_help(cmds.out)
            continue
        try:
            a = parser.parse_args(words)
        except SystemExit:          # argparse has printed what was wrong
            failed += 1
            continue
        try:
            cmds.run(a)
        except cli.ClientError as exc:
            print(f"ftp-client: {exc}", file=sys.stderr, flush=True)
            failed += 1
            cause = exc.__cause__
            if isinstance(cause, (EOFError, OSError)) or (isinstance(cause, ftplib.error_temp)
                                                          and str(cause).startswith("421")):
                break               # the session is gone: nothing more can work
    return failed


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("ftp-client", _("The chapter's ftplib client: one subcommand per ftplib method."), "ftp", PORT)
    p.add_argument("-u", "--user", default="anonymous", help=_("account (default: anonymous)"))
    p.add_argument("-p", "--password", help=_("password (default: FTP_PASSWORD, or asked for)"))
    p.add_argument("--cd", metavar="DIR", help=_("change to DIR (cwd) before the subcommand"))
    add_session_args(p)
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help=_("draw a progress bar for transfers (default: when stderr is a terminal)"))
    p.add_argument("--no-progress", dest="progress", action="store_false")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_commands(sub)
    sub.add_parser("shell", help=_("read subcommands line by line on one session (cd, ls, get, ...)"))
    return p


def shell_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="", add_help=False, description=_("Subcommands (quit ends):"))
    add_commands(p.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return p


@cli.main("ftp-client")
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    out = sys.stdout
    # ftplib prints its --trace dialogue with print(): send that to stderr, results to stdout
    redirect = contextlib.redirect_stdout(sys.stderr) if args.trace else contextlib.nullcontext()
    with redirect:
        password = password_for(args.user, args.password)
        ftp = open_session(args.host, args.port, user=args.user, password=password, tls=args.tls,
                           active=args.active, timeout=args.timeout, trace=args.trace, cafile=args.cafile)
        try:
            cmds = Commands(ftp, args, out)
            if args.cd:
                with ftp_errors(cmds.where, "cd"):
                    ftp.cwd(args.cd)
            if args.command == "shell":
                return 1 if shell(cmds, shell_parser()) else 0
            cmds.run(args)
        finally:
            close_session(ftp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
