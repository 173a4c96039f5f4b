"""``mail-host``: run Dovecot and the SMTP server together as the lab host ``mail``.

A container runs one command; the mail host needs two programs.  This small supervisor is
that command (under ``tini``, which reaps zombies and passes signals on to it):

1. write Dovecot's password file from ``MAIL_ACCOUNTS`` (on the /tmp tmpfs), and remove
   the lock files a crash may have left in the mail store (see :func:`remove_stale_locks`);
2. start ``dovecot -F`` and wait until its LMTP socket listens;
3. start the SMTP server (``mail-smtpd``) and wait until ports 25, 587 and 465 listen --
   so once port 25 answers, everything behind it is ready too;
4. wait.  If either program stops, stop the other and exit non-zero: a half mail host
   is worse than a stopped one, and Docker's restart policy brings the whole host back.
   On SIGTERM (``docker stop``) stop them in reverse order -- the SMTP server first, so it
   finishes the deliveries it owes a 250 for, then Dovecot -- and exit 0.

Everything runs as the unprivileged user ``socklab``, with no capabilities.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from socklab.log import configure
from socklab.services.mail import DOMAIN, MAIL_STORE, accounts

# Runtime files, on the /tmp tmpfs (the root file system is read-only).  dovecot.conf names
# the same paths: base_dir and the passwd-file.
RUN_DIR = "/tmp/socklab-mail"
DOVECOT_BASE = f"{RUN_DIR}/dovecot"
USERS_FILE = f"{RUN_DIR}/users"
LMTP_SOCKET = f"{DOVECOT_BASE}/lmtp"
SMTP_PORTS = ("25", "587", "465")


def remove_stale_locks(store: str = MAIL_STORE) -> list[str]:
    """Remove Dovecot's lock files (``dovecot-uidlist.lock`` ...) from the mail store; their paths.

    Call it before Dovecot starts.  A process that is killed (``kill -9``, the host's memory
    limit, a power cut) leaves its dotlock behind, holding ``<pid>:<hostname>``.  Dovecot
    breaks a lock at once if that process is gone -- but in a container that starts again,
    the same small process numbers come back, so the lock seems held by a live process and
    every IMAP ``SELECT`` of that mailbox waits for it to go stale: two minutes.  Before
    Dovecot starts no process of this host can hold a lock, and the store is this host's
    alone, so every lock found then is stale.
    """
    removed = []
    for path in Path(store).glob("*/*/Maildir/**/dovecot*.lock"):
        try:
            path.unlink()
            removed.append(str(path))
        except FileNotFoundError:
            pass
    return removed


class SupervisorError(Exception):
    """A program did not start; the message says which and why."""


class Supervisor:
    """Start programs in order, stop them all (in reverse order) when one stops or on SIGTERM.

    :param logger: where to say what happens (default: the logger ``mail-host``).
    :param stop_timeout: seconds each program gets to exit after SIGTERM before SIGKILL.
    """

    def __init__(self, logger: logging.Logger | None = None, stop_timeout: float = 8.0) -> None:
        self.log = logger or logging.getLogger("mail-host")
        self.stop_timeout = stop_timeout
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.signalled: int | None = None

    def start(self, name: str, argv: list[str], ready: Callable[[], bool], timeout: float = 30.0) -> None:
        """Start *argv* (its output goes to ours) and wait until ``ready()`` is true."""
        child = subprocess.Popen(argv)
        self.children.append((name, child))
        deadline = time.monotonic() + timeout
        while not ready():
            if child.poll() is not None:
                raise SupervisorError(f"{name} exited with status {child.returncode} while starting")
            if self.signalled is not None:
                raise SupervisorError(f"stopped by signal {self.signalled} while {name} was starting")
            if time.monotonic() > deadline:
                raise SupervisorError(f"{name} was not ready after {timeout:g} s")
            time.sleep(0.05)
        self.log.info("%s is ready (pid %d)", name, child.pid)

    def _on_signal(self, signum, frame) -> None:
        self.signalled = signum

    def catch_signals(self) -> None:
        """SIGTERM and SIGINT ask for a clean stop (handled by :meth:`wait`)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def wait(self) -> int:
        """Sleep until a program exits or a stop is asked for; then stop all. The exit status."""
        exited = None
        while self.signalled is None and exited is None:
            exited = next(((name, child) for name, child in self.children if child.poll() is not None), None)
            time.sleep(0.2)
        if exited:
            name, child = exited
            self.log.error("%s exited with status %s; stopping the mail host", name, child.returncode)
        else:
            self.log.info("signal %d: stopping the mail host", self.signalled)
        self.stop()
        return 1 if exited else 0

    def stop(self) -> None:
        """SIGTERM each running program, last started first; SIGKILL what does not exit in time."""
        for name, child in reversed(self.children):
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    self.log.warning("%s did not stop in %g s; killing it", name, self.stop_timeout)
                    child.kill()
                    child.wait()
            self.log.info("%s stopped (status %s)", name, child.returncode)


def listening(kind: str, targets: list[str] | tuple[str, ...]) -> Callable[[], bool]:
    """A readiness check: are these sockets listening in this container? (asks lab-probe,
    which the healthcheck uses too)"""
    return lambda: subprocess.run(["lab-probe", kind, *targets], stdout=subprocess.DEVNULL).returncode == 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="mail-host", description=(
        "The lab host `mail`: Dovecot (LMTP delivery, POP3, IMAP) and socklab's SMTP server "
        "(25, 587, 465), started and stopped together."))
    p.add_argument("--accounts", default=os.environ.get("MAIL_ACCOUNTS", accounts.DEFAULT_ACCOUNTS),
                   help="user:password pairs (default: $MAIL_ACCOUNTS or "
                        f"'{accounts.DEFAULT_ACCOUNTS}')")
    p.add_argument("--max-size", type=int, default=None, metavar="BYTES",
                   help="largest message the SMTP server accepts (default: mail-smtpd's)")
    p.add_argument("--verbose", action="store_true", help="log every SMTP command")
    args = p.parse_args(argv)
    configure()
    log = logging.getLogger("mail-host")

    try:
        users = accounts.parse(args.accounts)
    except ValueError as exc:
        log.error("MAIL_ACCOUNTS: %s", exc)
        return 2
    os.makedirs(RUN_DIR, mode=0o700, exist_ok=True)
    accounts.write_passwd_file(USERS_FILE, users, DOMAIN)
    log.info("mailboxes: %s", ", ".join(f"{a.user}@{DOMAIN}" for a in users))
    try:
        stale = remove_stale_locks()
    except OSError as exc:
        log.warning("could not look for stale locks in %s: %s", MAIL_STORE, exc)
    else:
        if stale:
            log.info("removed %d lock file(s) left by a crash: %s", len(stale), ", ".join(stale))

    smtpd = [sys.executable, "-m", "socklab.services.mail.smtp", "--lmtp", LMTP_SOCKET, "--passwd-file", USERS_FILE]
    if args.max_size:
        smtpd += ["--max-size", str(args.max_size)]
    if args.verbose:
        smtpd.append("--verbose")

    supervisor = Supervisor(log)
    supervisor.catch_signals()
    with resources.as_file(resources.files("socklab.services.mail") / "dovecot.conf") as conf:
        try:
            supervisor.start("dovecot", ["dovecot", "-F", "-c", str(conf)],
                             ready=listening("unix", [LMTP_SOCKET]))
            supervisor.start("mail-smtpd", smtpd, ready=listening("tcp", SMTP_PORTS))
        except SupervisorError as exc:
            log.error("%s", exc)
            supervisor.stop()
            return 1
        return supervisor.wait()


if __name__ == "__main__":
    raise SystemExit(main())
