"""Section *smtp*: how fast the mail host accepts mail, and how fast it delivers it.

* **accepted** -- Postfix's ``smtp-source`` sends to port 25 (1 and 16 connections, 1 kB
  and 100 kB messages); the peer is Postfix's ``smtp-sink``, which answers 250 and throws
  the message away: the cost of the SMTP dialogue alone.
* **delivered end to end** -- the same load, timed until the last message is visible in
  IMAP (``bench_load.py imap-watch``).  socklab's mail host hands each message over LMTP to
  Dovecot, which writes it to Maildir and ``fsync``-s it before the 250.  Its honest peer
  does the same job with Debian's real servers: Postfix's ``smtpd`` queues the message,
  its ``lmtp`` client hands it to Dovecot's LMTP, which writes it to Maildir with the
  same ``mail_fsync`` (``tools/peers/postfix-dovecot.sh``, in the peers image).
"""

from __future__ import annotations

import json
import subprocess

from tools.bench.figures import Figures, fmt, upstream
from tools.bench.settings import Settings
from tools.bench.testbed import MAIL_PEER, Testbed
from tools.measure import MeasureError, sh


class Mail:
    def __init__(self, bed: Testbed, figures: Figures, s: Settings, versions: dict) -> None:
        self.bed, self.figures, self.s, self.versions = bed, figures, s, versions

    def accounts(self) -> list[tuple[str, str]]:
        text = self.bed.env_of("mail").get("MAIL_ACCOUNTS") or "alice:password bob:password"
        return [tuple(a.split(":", 1)) for a in text.split() if ":" in a]

    def smtp_source(self, host: str, sessions: int, size: int, count: int, to: str) -> tuple[float, float]:
        """Run Postfix's smtp-source against host:25; its start and end (epoch seconds, in the container)."""
        script = 'start=$(date +%s.%N); timeout "$0" smtp-source "$@"; rc=$?; echo "$start $(date +%s.%N) $rc"'
        res = sh(["docker", "exec", self.bed.peer_loader, "sh", "-c", script, str(int(self.s.smtp_seconds)),
                  "-d", "-s", str(sessions), "-m", str(count), "-l", str(size), "-M", "bench.lab.test",
                  "-f", "bench@lab.test", "-t", to, f"{host}:25"], check=False, timeout=self.s.smtp_seconds + 30)
        fields = res.stdout.split()
        if len(fields) < 3 or fields[-1] != "0":
            raise MeasureError(f"smtp-source against {host} failed: {(res.stderr or res.stdout).strip()[-300:]}")
        return float(fields[-3]), float(fields[-2])

    def measure(self, r: int) -> None:
        accounts = self.accounts()
        to = f"{accounts[0][0]}@lab.test"
        peer = f"smtp-sink, Postfix {upstream(self.versions.get('postfix', ''))}".strip(", ")
        order = ["mail", "smtp-sink"] if r % 2 == 0 else ["smtp-sink", "mail"]
        for sessions, size, count in self.s.smtp_loads:
            f = self.figures.fig(f"smtp.accept.c{sessions}.{size // 1000}k", "smtp",
                                 f"smtp-source, {sessions} connection{'s' if sessions > 1 else ''}, {size // 1000} kB "
                                 f"messages: accepted", "msg/s", "higher", peer=peer)

            def rate(host: str) -> float:
                start, end = self.smtp_source(host, sessions, size, count, to)
                return count / (end - start)

            got = {host: self.figures.measure([f], r, lambda host=host: rate(host), where=host) for host in order}
            f.add(got["mail"], got["smtp-sink"])
            self.bed.progress(f"  smtp-source -s {sessions} -l {size}: mail {fmt(got['mail'])} msg/s, "
                              f"smtp-sink {fmt(got['smtp-sink'])} msg/s")
        self.end_to_end(r, accounts[-1])

    def end_to_end(self, r: int, account: tuple[str, str]) -> None:
        sessions, size, count = self.s.smtp_e2e
        v = self.versions
        peer = (f"Postfix {upstream(v.get('postfix', ''))} -> LMTP -> Dovecot {upstream(v.get('dovecot-core', ''))}"
                if MAIL_PEER in self.bed.peers else None)
        f = self.figures.fig("smtp.e2e", "smtp", f"end to end, {sessions} connections, {size // 1000} kB: accepted -> "
                             "visible in IMAP", "msg/s", "higher", peer=peer)
        hosts = ["mail", MAIL_PEER] if peer else ["mail"]
        if r % 2:
            hosts.reverse()
        got = {host: self.figures.measure([f], r, lambda host=host: self.delivered(host, account, sessions, size,
                                                                                     count), where=host)
               for host in hosts}
        f.add(got["mail"], got.get(MAIL_PEER))
        self.bed.progress(f"  end to end, {count} messages: mail {fmt(got['mail'])} msg/s"
                          + (f", Postfix -> Dovecot {fmt(got[MAIL_PEER])} msg/s" if peer else ""))

    def delivered(self, host: str, account: tuple[str, str], sessions: int, size: int, count: int) -> float:
        """Messages per second from the first one sent to the last one visible in IMAP at *host*."""
        user, password = account
        watcher = subprocess.Popen(
            ["docker", "exec", self.bed.loader, "python3", "/bench/bench_load.py", "imap-watch", "--host", host,
             "--user", user, "--password", password, "--want", str(count), "--seconds", str(self.s.smtp_seconds),
             *(["--plain"] if host == MAIL_PEER else [])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready = watcher.stdout.readline()
            if not ready.startswith("READY"):
                raise MeasureError(f"the IMAP watcher did not start: {ready.strip()} {watcher.stderr.read()[-300:]}")
            start, _ = self.smtp_source(host, sessions, size, count, f"{user}@lab.test")
            try:
                out, err = watcher.communicate(timeout=self.s.smtp_seconds + 30)
            except subprocess.TimeoutExpired:
                raise MeasureError("the IMAP watcher did not finish in time") from None
            if watcher.returncode != 0:
                raise MeasureError(f"IMAP watcher: {err.strip()[-300:]}")
            try:
                res = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise MeasureError(f"IMAP watcher said {out[-300:]!r}") from None
            if not res["done"]:
                raise MeasureError(f"only {res['seen']} of {count} messages visible in IMAP")
            return count / (res["reached_at"] - start)
        finally:
            if watcher.poll() is None:
                watcher.kill()
                watcher.wait()
