"""``ftp-move``: move every file whose name matches a pattern from one FTP server to another.

The chapter's real-world example: six million data files, named by a convention, moved
from one Linux server to another by a Python program using ftplib.  In the lab::

    $ ftp-move 'obs-*.dat' --source-dir outbox --target-dir inbox
    ftp-move: 300 files match on ftp:21/outbox; moving them to ftp-backup:21/inbox with 4 connections
    ftp-move: moved 300 files (22.5 kB) in 1.4 s: 214.3 files/s, 0.0 MB/s; already there 0, resumed 0,
              skipped 0, failed 0

Moving a file means four steps, in this order:

1. **copy** it to the target under a temporary name, ``.NAME.ftp-move-part``: the bytes
   stream from the source's data connection (``RETR``) straight into the target's
   (``STOR``), never to a local disk;
2. **verify** the copy: the same size and the same SHA-256 as the bytes read from the
   source -- the target computes it (``HASH``) where it offers that, otherwise the copy
   is read back and hashed here;
3. **rename** it to its final name (``RNFR``/``RNTO``), which is atomic on the target;
4. **delete** the source (``DELE``).

So a final name on the target always holds a whole, verified file, and a source file is
deleted only once that is true.  Stop the program at any moment -- Ctrl-C, a dropped
network, ``kill -9`` -- and run it again: for each file it finds on the target

* the final name (stopped between 3 and 4): it checks that both copies are the same and
  deletes the source -- the file is not copied twice;
* a temporary copy (stopped during 1 or 2): it resumes the copy where it ended
  (``REST``), then verifies, renames and deletes;
* nothing: it starts at step 1.

The target *is* the record of what was done; there is no state file to lose.  Several
connections (``--jobs``) move files side by side, each taking the next file from one list.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import ftplib
import hashlib
import posixpath
import queue
import re
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field

from socklab import cli
from socklab.i18n import _
from socklab.clients.ftp_common import (BLOCK, PORT, add_session_args, close_session, ftp_errors,
                                        hash_algorithms, human_bytes, open_session, password_for, rate)

PART_SUFFIX = ".ftp-move-part"
# a dropped connection, a 4xx reply, TLS trouble: worth a new connection and another try
TRANSIENT = (ftplib.error_temp, ftplib.error_reply, ftplib.error_proto, EOFError, OSError)


def part_name(name: str) -> str:
    """The temporary name a file has on the target until it is verified."""
    return f".{name}{PART_SUFFIX}"


class FileFailed(Exception):
    """This file cannot be moved now (it stays at the source); the others go on."""


@dataclass
class Endpoint:
    """Where files come from or go to: a server, an account, a directory."""

    host: str
    port: int
    user: str
    password: str
    directory: str
    tls: bool = False
    active: bool = False
    timeout: float = 30.0
    trace: bool = False
    cafile: str | None = None

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.directory.strip('/')}"


class Session:
    """One logged-in connection, in the endpoint's directory, in binary mode (TYPE I)."""

    def __init__(self, ep: Endpoint, create: bool = False) -> None:
        self.ep = ep
        self.where = f"{ep.host}:{ep.port}"
        self.ftp = open_session(ep.host, ep.port, user=ep.user, password=ep.password, tls=ep.tls,
                                active=ep.active, timeout=ep.timeout, trace=ep.trace, cafile=ep.cafile)
        try:
            with ftp_errors(self.where, f"directory {ep.directory}"):
                try:
                    self.ftp.cwd(ep.directory)
                except ftplib.error_perm:
                    if not create:
                        raise
                    self.makedirs(ep.directory)
                    self.ftp.cwd(ep.directory)
                self.cwd = self.ftp.pwd()
                self.ftp.voidcmd("TYPE I")
                self.hash = "SHA-256" in hash_algorithms(self.ftp)
                if self.hash:
                    self.ftp.sendcmd("OPTS HASH SHA-256")
        except BaseException:
            self.ftp.close()
            raise

    def makedirs(self, path: str) -> None:
        parts = [p for p in path.split("/") if p]
        for i in range(len(parts)):
            sub = ("/" if path.startswith("/") else "") + "/".join(parts[: i + 1])
            try:
                self.ftp.mkd(sub)
            except ftplib.error_perm:
                pass                # already there (or really refused: cwd will say so)

    def files(self) -> dict[str, int]:
        """The regular files here and their sizes (MLSD; NLST + SIZE where MLSD is missing)."""
        try:
            return {name: int(facts.get("size", 0))
                    for name, facts in self.ftp.mlsd("", facts=["type", "size"])
                    if facts.get("type") == "file"}
        except ftplib.error_perm as exc:
            if not str(exc).startswith(("500", "502")):
                raise
        result = {}
        for name in self.ftp.nlst():
            size = self.size(posixpath.basename(name))
            if size is not None:
                result[posixpath.basename(name)] = size
        return result

    def size(self, name: str) -> int | None:
        """SIZE, or None if there is no such file."""
        try:
            return self.ftp.size(name)
        except ftplib.error_perm:
            return None

    def server_sha256(self, name: str) -> tuple[str, int]:
        """The server's SHA-256 of *name* and its size, from one HASH command."""
        reply = self.ftp.sendcmd(f"HASH {name}")      # 213 SHA-256 0-<size> <hex> <name>
        parts = reply.split(" ", 4)
        try:
            if parts[1] != "SHA-256" or not parts[2].startswith("0-"):
                raise ValueError
            return parts[3].lower(), int(parts[2][2:])
        except (IndexError, ValueError):
            raise ftplib.error_reply(reply) from None

    def read_sha256(self, name: str) -> tuple[str, int]:
        """Read the whole file and hash it here (for servers without HASH)."""
        h, size = hashlib.sha256(), 0

        def block(data: bytes) -> None:
            nonlocal size
            h.update(data)
            size += len(data)

        self.ftp.retrbinary(f"RETR {name}", block, blocksize=BLOCK)
        return h.hexdigest(), size

    def sha256(self, name: str, mode: str) -> tuple[str, int]:
        """SHA-256 and size of *name*: by HASH if offered (and *mode* is auto), else read back."""
        return self.server_sha256(name) if (mode == "auto" and self.hash) else self.read_sha256(name)

    def close(self) -> None:
        close_session(self.ftp)


@dataclass
class Stats:
    """What happened, counted by every worker (under one lock)."""

    matched: int = 0
    moved: int = 0            # copied, verified, renamed, source deleted
    already: int = 0          # found complete on the target (an earlier run stopped before DELE)
    resumed: int = 0          # of the moved: continued from an earlier partial copy
    skipped: int = 0          # a different file of that name is on the target: left alone
    failed: int = 0
    bytes: int = 0            # size of the files now at the target by this run
    sent: int = 0             # bytes that went over the data connections to the target
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        with self.lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)

    @property
    def done(self) -> int:
        return self.moved + self.already + self.skipped + self.failed


class Mover:
    """Moves files one at a time over its own pair of connections (source, target)."""

    def __init__(self, source: Endpoint, target: Endpoint, *, verify: str, overwrite: bool,
                 stats: Stats, report) -> None:
        self.source, self.target = source, target
        self.verify_mode, self.overwrite = verify, overwrite
        self.stats, self.report = stats, report
        self.src: Session | None = None
        self.dst: Session | None = None

    # --- connections

    def connect(self) -> None:
        self.disconnect()
        self.src = Session(self.source)
        self.dst = Session(self.target, create=True)

    def disconnect(self) -> None:
        for s in (self.src, self.dst):
            if s is not None:
                with contextlib.suppress(Exception):
                    s.ftp.close()
        self.src = self.dst = None

    def close(self) -> None:
        for s in (self.src, self.dst):
            if s is not None:
                s.close()
        self.src = self.dst = None

    # --- one file

    def move(self, name: str, size: int, on_target: dict[str, int] | None) -> str:
        """Move *name* (*size* bytes); return what happened: moved, already or skipped.

        *on_target* is the target's listing from the start of the run, or None to ask the
        target afresh (after a reconnect, when the listing may be out of date).
        """
        src, dst = self.src, self.dst
        part = part_name(name)
        if on_target is None:
            final_size, part_size = dst.size(name), dst.size(part)
        else:
            final_size, part_size = on_target.get(name), on_target.get(part)

        if final_size is not None:
            if self.same(name, size, final_size):
                src.ftp.delete(name)          # the copy was complete: finish the move
                return "already"
            if not self.overwrite:
                return "skipped"

        offset = part_size or 0
        if offset > size:                     # not a prefix of this file: start again
            dst.ftp.delete(part)
            offset = 0
        resumed = offset > 0
        for attempt in (1, 2):
            digest = self.copy(name, part, offset) if offset < size else None
            problem = self.check(name, part, size, digest)
            if problem is None:
                break
            dst.ftp.delete(part)
            offset, resumed = 0, False
            if attempt == 2:
                raise FileFailed(f"verification failed twice: {problem}")
            self.report("retry", name, f"{problem}; copying again from the start")
        dst.ftp.rename(part, name)            # atomic: the final name appears complete
        src.ftp.delete(name)                  # only now does the source go
        self.stats.add(resumed=int(resumed))
        return "moved"

    def copy(self, name: str, part: str, offset: int) -> str | None:
        """Stream the source file into *part* on the target from *offset* on.

        Returns the SHA-256 of the source's bytes when all of them were read, else None.
        When resuming from a server without HASH, the whole source is read (and only the
        rest sent) so that its checksum is still known.
        """
        src, dst = self.src, self.dst
        start = 0 if (offset == 0 or not src.hash or self.verify_mode == "readback") else offset
        skip = offset - start
        h = hashlib.sha256() if start == 0 else None
        src_conn, _size = src.ftp.ntransfercmd(f"RETR {name}", rest=start or None)
        with src_conn:
            dst_conn, _size = dst.ftp.ntransfercmd(f"STOR {part}", rest=offset or None)
            with dst_conn:
                while data := src_conn.recv(BLOCK):
                    if h is not None:
                        h.update(data)
                    if skip:
                        cut = min(skip, len(data))
                        data, skip = data[cut:], skip - cut
                    if data:
                        dst_conn.sendall(data)
                        self.stats.add(sent=len(data))
                if isinstance(dst_conn, ssl.SSLSocket):
                    dst_conn.unwrap()         # TLS close_notify, as ftplib's storbinary does
            if isinstance(src_conn, ssl.SSLSocket):
                src_conn.unwrap()
        dst.ftp.voidresp()                    # 226: the target has closed the file
        src.ftp.voidresp()
        return h.hexdigest() if h is not None else None

    def check(self, name: str, part: str, size: int, digest: str | None) -> str | None:
        """Is *part* on the target a true copy of *name*?  None if so, else what differs.

        *digest* is the SHA-256 of the bytes read from the source during the copy, if they
        were all read; otherwise the source is asked (HASH) or read again.
        """
        src, dst = self.src, self.dst
        if self.verify_mode == "size":
            got = dst.size(part)
            return None if got == size else f"the copy has {got} bytes, the source {size}"
        theirs = digest if digest is not None else src.sha256(name, self.verify_mode)[0]
        copy, got = dst.sha256(part, self.verify_mode)      # HASH also tells the size
        if got != size:
            return f"the copy has {got} bytes, the source {size}"
        if copy != theirs:
            return f"SHA-256 differs (source {theirs[:12]}..., copy {copy[:12]}...)"
        return None

    def same(self, name: str, size: int, target_size: int) -> bool:
        """Are the source file and the target file of that name the same bytes?"""
        if size != target_size:
            return False
        if self.verify_mode == "size":
            return True
        return self.src.sha256(name, self.verify_mode) == self.dst.sha256(name, self.verify_mode)

    # --- the loop of one worker

    def run(self, work: "queue.Queue[tuple[str, int]]", on_target: dict[str, int], retries: int,
            stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    name, size = work.get_nowait()
                except queue.Empty:
                    return
                self.one(name, size, on_target, retries, stop)
        finally:
            with contextlib.suppress(Exception):
                self.close()

    def one(self, name: str, size: int, on_target: dict[str, int], retries: int, stop: threading.Event) -> None:
        listing: dict[str, int] | None = on_target
        for attempt in range(retries + 1):
            try:
                if self.src is None:
                    self.connect()
                    listing = None if attempt else listing
                outcome = self.move(name, size, listing)
            except FileFailed as exc:
                self.stats.add(failed=1)
                self.report("failed", name, str(exc))
                return
            except ftplib.error_perm as exc:          # 5xx about this file: do not insist
                self.disconnect()                     # the session may be mid-transfer
                self.stats.add(failed=1)
                self.report("failed", name, str(exc).strip())
                return
            except cli.ClientError as exc:            # could not connect or log in
                self.disconnect()
                if attempt == retries or stop.is_set():
                    self.stats.add(failed=1)
                    self.report("failed", name, str(exc))
                    return
                time.sleep(min(2 ** attempt, 5))
            except TRANSIENT as exc:                  # connection trouble: new connections, again
                self.disconnect()
                if attempt == retries or stop.is_set():
                    self.stats.add(failed=1)
                    self.report("failed", name, trouble(exc))
                    return
                self.report("retry", name, trouble(exc))
                time.sleep(min(0.2 * 2 ** attempt, 5))
                listing = None
            else:
                if outcome == "moved":
                    self.stats.add(moved=1, bytes=size)
                elif outcome == "already":
                    self.stats.add(already=1, bytes=size)
                else:
                    self.stats.add(skipped=1)
                self.report(outcome, name, f"{size} bytes" if outcome != "skipped"
                            else "a different file of that name is on the target (--overwrite replaces it)")
                return


def trouble(exc: BaseException) -> str:
    """A connection problem in a few words."""
    if isinstance(exc, EOFError):
        return "the server closed the connection"
    if isinstance(exc, OSError):
        return cli.describe(exc, "a server")
    return str(exc).strip() or type(exc).__name__


class Reporter:
    """Lines about single files (all with -v; problems always) and the progress line."""

    def __init__(self, verbose: bool, progress: bool, out, err) -> None:
        self.verbose, self.progress, self.out, self.err = verbose, progress, out, err
        self.lock = threading.Lock()
        self._drawn = False

    def __call__(self, what: str, name: str, detail: str) -> None:
        problem = what in ("failed", "skipped", "retry")
        if not (self.verbose or problem):
            return
        with self.lock:
            self._clear()
            print(f"{what} {name}: {detail}" if problem else f"{what} {name} ({detail})",
                  file=self.err if problem else self.out, flush=True)

    def draw(self, stats: Stats, started: float) -> None:
        if not self.progress:
            return
        elapsed = time.monotonic() - started
        with self.lock:
            print("\r" + _("{done}/{matched} files  {bytes}  {per_second:.1f} files/s  {rate}").format(
                done=stats.done, matched=stats.matched, bytes=human_bytes(stats.bytes),
                per_second=stats.done / max(elapsed, 1e-9), rate=rate(stats.sent, elapsed)) + "\033[K",
                end="", file=self.err, flush=True)
            self._drawn = True

    def _clear(self) -> None:
        if self._drawn:
            print("\r\033[K", end="", file=self.err, flush=True)
            self._drawn = False

    def end(self) -> None:
        with self.lock:
            self._clear()


def matcher(patterns: list[str], regex: bool):
    if regex:
        compiled = [re.compile(p) for p in patterns]
        return lambda name: any(c.fullmatch(name) for c in compiled)
    return lambda name: any(fnmatch.fnmatchcase(name, p) for p in patterns)


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("ftp-move", _("Move the files whose names match PATTERN from one FTP server to another: "
                                 "copy, verify, rename, then delete the source. Safe to stop and run again."),
                   None, None)
    p.add_argument("patterns", nargs="+", metavar="PATTERN",
                   help=_("shell-style name pattern, e.g. 'obs-2016*.dat' (quote it); several allowed"))
    p.add_argument("--regex", action="store_true", help=_("patterns are regular expressions (whole name)"))
    p.add_argument("--source", default="ftp", metavar="HOST", help=_("server to move from (default: ftp)"))
    p.add_argument("--source-port", type=int, default=PORT)
    p.add_argument("--source-dir", default=".", metavar="DIR", help=_("directory there (default: login directory)"))
    p.add_argument("--target", default="ftp-backup", metavar="HOST", help=_("server to move to (default: ftp-backup)"))
    p.add_argument("--target-port", type=int, default=PORT)
    p.add_argument("--target-dir", default=".", metavar="DIR",
                   help=_("directory there, made if missing (default: login directory)"))
    p.add_argument("-u", "--user", default=cli.env("FTP_USER", "student"),
                   help=_("account on both servers (default: FTP_USER, else student)"))
    p.add_argument("-p", "--password", help=_("its password (default: FTP_PASSWORD, or asked for)"))
    p.add_argument("--target-user", help=_("account on the target, if different"))
    p.add_argument("--target-password", help=_("its password, if different"))
    add_session_args(p)
    p.add_argument("-j", "--jobs", type=int, default=4, help=_("connections to each server, moving side by side (default: 4)"))
    p.add_argument("--verify", choices=["auto", "readback", "size"], default="auto",
                   help=_("auto: SHA-256 by HASH where a server offers it, else read back (default); "
                          "readback: always read the copy back; size: compare sizes only"))
    p.add_argument("--overwrite", action="store_true",
                   help=_("replace a different file of the same name on the target (default: skip it)"))
    p.add_argument("--retries", type=int, default=5,
                   help=_("new connections to try per file after a network error, waiting longer each time (default: 5)"))
    p.add_argument("--dry-run", action="store_true", help=_("only list what would be moved"))
    p.add_argument("-v", "--verbose", action="store_true", help=_("a line for every file"))
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help=_("a progress line (default: when stderr is a terminal)"))
    p.add_argument("--no-progress", dest="progress", action="store_false")
    return p


@cli.main("ftp-move")
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    out, err = sys.stdout, sys.stderr
    if args.jobs < 1:
        raise cli.ClientError(_("--jobs must be at least 1"))
    redirect = contextlib.redirect_stdout(sys.stderr) if args.trace else contextlib.nullcontext()
    with redirect:
        password = password_for(args.user, args.password)
        target_user = args.target_user or args.user
        target_password = (args.target_password if args.target_password is not None
                           else password if target_user == args.user else password_for(target_user, None))
        common = dict(tls=args.tls, active=args.active, timeout=args.timeout, trace=args.trace, cafile=args.cafile)
        source = Endpoint(args.source, args.source_port, args.user, password, args.source_dir, **common)
        target = Endpoint(args.target, args.target_port, target_user, target_password, args.target_dir, **common)
        return run(args, source, target, out, err)


def run(args, source: Endpoint, target: Endpoint, out, err) -> int:
    # One look at both directories: what to move, and what the target already holds.
    src, dst = Session(source), Session(target, create=True)
    try:
        if (source.host, source.port, source.user, src.cwd) == (target.host, target.port, target.user, dst.cwd):
            raise cli.ClientError(_("source and target are the same directory"))
        with ftp_errors(src.where, _("listing the source")):
            src_files = src.files()
        with ftp_errors(dst.where, _("listing the target")):
            on_target = dst.files()
        source.directory, target.directory = src.cwd, dst.cwd     # absolute from now on
    finally:
        src.close()
        dst.close()

    matches = matcher(args.patterns, args.regex)
    todo = sorted((n, s) for n, s in src_files.items() if matches(n) and not n.endswith(PART_SUFFIX))
    stale = [n for n in on_target if n.endswith(PART_SUFFIX) and n[1:-len(PART_SUFFIX)] not in src_files]
    connections = "" if args.dry_run else _(" with {n} connections").format(n=min(args.jobs, max(len(todo), 1)))
    print("ftp-move: " + _("{n} files match on {source}; moving them to {target}{connections}").format(
        n=len(todo), source=source, target=target, connections=connections), file=out, flush=True)
    if args.dry_run:
        for name, size in todo:
            state = (_("on the target already") if name in on_target else
                     _("partial copy of {size} bytes on the target").format(size=on_target[part_name(name)])
                     if part_name(name) in on_target else "")
            print("  " + _("{name} ({size} bytes)").format(name=name, size=size)
                  + ("  -- " + state if state else ""), file=out)
        return 0

    stats = Stats(matched=len(todo))
    work: queue.Queue[tuple[str, int]] = queue.Queue()
    for item in todo:
        work.put(item)
    show_progress = args.progress if args.progress is not None else err.isatty()
    report = Reporter(args.verbose, show_progress and not args.trace, out, err)
    stop = threading.Event()
    started = time.monotonic()
    movers = [Mover(source, target, verify=args.verify, overwrite=args.overwrite, stats=stats, report=report)
              for _job in range(min(args.jobs, max(len(todo), 1)))]
    threads = [threading.Thread(target=m.run, args=(work, on_target, args.retries, stop), daemon=True)
               for m in movers]
    interrupted = False
    for t in threads:
        t.start()
    try:
        while alive := [t for t in threads if t.is_alive()]:
            alive[0].join(0.2)
            report.draw(stats, started)
    except KeyboardInterrupt:
        interrupted = True
        stop.set()                          # each connection finishes the file it is on
        for t in threads:
            t.join(60)
    report.end()
    elapsed = time.monotonic() - started
    print("ftp-move: " + (_("interrupted; ") if interrupted else "")
          + _("moved {moved} files ({bytes}) in {seconds:.1f} s: {per_second:.1f} files/s, {rate}; "
              "already there {already}, resumed {resumed}, skipped {skipped}, failed {failed}").format(
              moved=stats.moved, bytes=human_bytes(stats.bytes), seconds=elapsed,
              per_second=(stats.moved + stats.already) / max(elapsed, 1e-9), rate=rate(stats.sent, elapsed),
              already=stats.already, resumed=stats.resumed, skipped=stats.skipped, failed=stats.failed),
          file=out, flush=True)
    if stale:
        print("ftp-move: " + _("{n} partial copies on the target have no source any more "
                                 "(e.g. {example}); left alone").format(n=len(stale), example=stale[0]), file=err)
    if interrupted:
        return 130
    return 0 if stats.failed == 0 and stats.skipped == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
