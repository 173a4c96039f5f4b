"""Section *ftp*: STOR and RETR of a large file, and a login storm -- the ftp host beside vsftpd.

Within a pass, socklab's ``ftp`` and vsftpd are measured back to back (which one first
alternates from pass to pass), with the same account, the same file and the same connection
limits (read from the ftp host's command line).
"""

from __future__ import annotations

from tools.bench.figures import Figures, fmt, upstream
from tools.bench.settings import Settings
from tools.bench.testbed import Testbed
from tools.measure import MeasureError


class FTP:
    def __init__(self, bed: Testbed, figures: Figures, s: Settings, versions: dict) -> None:
        self.bed, self.figures, self.s, self.versions = bed, figures, s, versions

    def measure(self, r: int) -> None:
        bed, s = self.bed, self.s
        env = bed.env_of("ftp")
        user, password = env.get("FTP_USER", "student"), env.get("FTP_PASSWORD", "password")
        peer = f"vsftpd {upstream(self.versions.get('vsftpd', ''))}".strip()
        mb = s.ftp_size / 1e6
        order = ["ftp", "vsftpd"] if r % 2 == 0 else ["vsftpd", "ftp"]
        for direction in ("stor", "retr"):
            f = self.figures.fig(f"ftp.{direction}", "ftp", f"{direction.upper()} of {mb:g} MB", "MB/s", "higher",
                                 peer=peer)
            got = {host: self.figures.measure([f], r, lambda host=host: bed.load(
                "ftp-transfer", "--host", host, "--direction", direction, "--size", str(s.ftp_size),
                "--user", user, "--password", password, "--seconds", str(s.ftp_seconds))["rate"], where=host)
                for host in order}
            f.add(got["ftp"], got["vsftpd"])
            bed.progress(f"  {direction.upper()} {mb:g} MB: ftp {fmt(got['ftp'])} MB/s, "
                         f"vsftpd {fmt(got['vsftpd'])} MB/s")
        n, bound = s.ftp_logins, s.ftp_login_seconds
        storm = f"{n} clients log in at once"
        rate = self.figures.fig("ftp.logins.rate", "ftp", f"{storm}: logins", "logins/s", "higher", peer=peer)
        done = self.figures.fig("ftp.logins.done", "ftp", f"{storm}: logged in within {bound:g} s", "clients",
                                "higher", peer=peer)
        p99 = self.figures.fig("ftp.logins.p99", "ftp", f"{storm}: login time p99 (of those logged in)", "ms",
                               "lower", peer=peer)

        def storm_at(host: str) -> dict:
            res = bed.load("ftp-logins", "--host", host, "--clients", str(n), "--user", user,
                           "--password", password, "--seconds", str(bound))
            if not res["done"]:
                raise MeasureError(f"nobody logged in ({res.get('first_error')})")
            bed.progress(f"  {n} logins at {host}: {res['done']} in after {res['seconds']:.2f} s "
                         f"({res['rate']:.0f}/s), p99 {res['p99_ms']:.0f} ms, {res['refused']} refused and retried")
            return res

        got = {host: self.figures.measure([rate, done, p99], r, lambda host=host: storm_at(host), where=host)
               for host in order}
        pick = (lambda h, k: got[h][k] if got.get(h) else None)
        rate.add(pick("ftp", "rate"), pick("vsftpd", "rate"))
        done.add(pick("ftp", "done"), pick("vsftpd", "done"))
        p99.add(pick("ftp", "p99_ms"), pick("vsftpd", "p99_ms"))
