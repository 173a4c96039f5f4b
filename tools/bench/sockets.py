"""Section *sockets*: round trips per second and p50/p99 latency, 1 and 32 clients.

tcp-server one client at a time and concurrent (restarted with ``TCP_SERVER_CONCURRENT``, as
a student would), ss-server with a connection per message, and udp-server (with the share
of datagrams lost).  The load is ``bench_load.py tcp``/``udp`` in the load container.
"""

from __future__ import annotations

import sys

from tools import lab as labtool
from tools.bench.figures import Figures
from tools.bench.settings import Settings
from tools.bench.testbed import ROOT, Testbed
from tools.measure import MeasureError, ToolError, sh

HOSTS = {"tcp-server", "udp-server", "ss-server"}


class Sockets:
    def __init__(self, bed: Testbed, figures: Figures, s: Settings) -> None:
        self.bed, self.figures, self.s = bed, figures, s

    def measure(self, r: int) -> None:
        modes = [False, True] if r % 2 == 0 else [True, False]   # one switch of tcp-server per pass
        self.tcp_server(r, modes[0])
        self.load(r, "ss", "ss-server", "ss-server, a connection per message", ["tcp", "--per-connection"],
                  self.s.ss_messages)
        self.load(r, "udp", "udp-server", "udp-server", ["udp"], self.s.udp_messages)
        self.tcp_server(r, modes[1])

    def tcp_server(self, r: int, concurrent: bool) -> None:
        key, what = (("tcp-conc", "tcp-server, concurrent") if concurrent
                     else ("tcp-seq", "tcp-server, one client at a time"))
        self.define(key, what, udp=False)
        figs = [self.figures[f"sockets.{key}.c{c}.{k}"] for c in self.s.socket_clients for k in ("rate", "p50", "p99")]
        if self.figures.measure(figs, r, lambda: self.tcp_mode(concurrent), where="tcp-server",
                                errors=(MeasureError, ToolError, labtool.LabError)) is None:
            for f in figs:
                f.add(None)
            return
        self.load(r, key, "tcp-server", what, ["tcp"], self.s.tcp_messages)

    def tcp_mode(self, concurrent: bool) -> bool:
        """Restart the bench lab's tcp-server one client at a time or concurrent, as a student would."""
        bed = self.bed
        log = "concurrent (a thread per client)" if concurrent else "one client at a time"
        logs = sh(["docker", "logs", bed.hosts["tcp-server"]["Id"]], check=False)
        if log in logs.stdout + logs.stderr:
            return True
        bed.progress(f"  restarting tcp-server: TCP_SERVER_CONCURRENT={'1' if concurrent else ''}")
        env = bed.lab_env(bed.lab, TCP_SERVER_CONCURRENT="1" if concurrent else "")
        sh([sys.executable, str(ROOT / "tools" / "lab.py"), "compose", "up", "-d", "tcp-server"], env=env)
        labtool.wait_ready(bed.lab, timeout=60)
        bed.refresh_hosts()
        bed.watch()
        logs = sh(["docker", "logs", bed.hosts["tcp-server"]["Id"]], check=False)
        if log not in logs.stdout + logs.stderr:
            raise MeasureError(f"tcp-server did not start {log} (TCP_SERVER_CONCURRENT in compose.yaml?)")
        return True

    def define(self, key: str, what: str, udp: bool) -> None:
        fig = self.figures.fig
        for c in self.s.socket_clients:
            who = f"{what}, {c} client{'s' if c > 1 else ''}"
            fig(f"sockets.{key}.c{c}.rate", "sockets", f"{who}: round trips", "round trips/s", "higher")
            fig(f"sockets.{key}.c{c}.p50", "sockets", f"{who}: latency p50", "ms", "lower")
            fig(f"sockets.{key}.c{c}.p99", "sockets", f"{who}: latency p99", "ms", "lower")
            if udp:
                fig(f"sockets.{key}.c{c}.loss", "sockets", f"{who}: datagrams lost", "%", "lower")

    def load(self, r: int, key: str, host: str, what: str, kind: list[str], messages: tuple) -> None:
        udp = kind[0] == "udp"
        self.define(key, what, udp)
        for clients, count in zip(self.s.socket_clients, messages):
            figs = [self.figures[f"sockets.{key}.c{clients}.{k}"] for k in ("rate", "p50", "p99", "loss")[:4 if udp else 3]]

            def once() -> dict:
                res = self.bed.load(*kind, "--host", host, "--clients", str(clients), "--messages", str(count),
                                    "--seconds", str(self.s.socket_seconds))
                if not res["done"]:
                    raise MeasureError(f"no round trip completed ({res})")
                return res

            res = self.figures.measure(figs, r, once, where=f"{host}, {clients} clients")
            values = [res["rate"], res["p50_ms"], res["p99_ms"], 100.0 * res["loss"] if udp else None] if res else [None] * 4
            for f, v in zip(figs, values):
                f.add(v)
            if res:
                note = f", lost {100 * res['loss']:.2f}%" if udp else f", errors {res['errors']}"
                self.bed.progress(f"  {what}, {clients} client{'s' if clients > 1 else ''}: "
                                  f"{res['rate']:,.0f} round trips/s, p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms{note}")
