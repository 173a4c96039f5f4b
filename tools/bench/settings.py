"""How much load the bench puts on each server, and how many runs (``--smoke``: tiny counts)."""

from __future__ import annotations

import dataclasses

SECTIONS = ("lifecycle", "footprint", "sockets", "ftp", "smtp", "news")


@dataclasses.dataclass
class Settings:
    """How much load, and how many runs. Every count is also bounded by a time."""

    runs: int = 3
    cold_runs: int = 3              # each builds both images from Debian's packages
    cold_base: bool = True          # False: keep the base image, build only the lab image (smoke)
    # sockets: round trips per client, for 1 client and for 32 clients
    socket_clients: tuple = (1, 32)
    tcp_messages: tuple = (1000, 40)
    ss_messages: tuple = (300, 10)
    udp_messages: tuple = (1000, 40)
    socket_seconds: float = 15.0
    # ftp
    ftp_size: int = 100_000_000
    ftp_logins: int = 300
    ftp_login_seconds: float = 20.0   # the login storm's bound: who is not in by then, is not counted
    ftp_seconds: float = 60.0
    # smtp: (connections, message size) -> messages
    smtp_loads: tuple = ((1, 1000, 40), (16, 1000, 160), (1, 100_000, 15), (16, 100_000, 48))
    smtp_e2e: tuple = (16, 1000, 80)
    smtp_seconds: float = 60.0
    # news
    news_posts: tuple = ((1, 40), (16, 160))
    news_over: int = 1000
    news_fetches: tuple = ((1, 400), (16, 40))          # (readers, fetches each)
    news_seconds: float = 30.0
    # footprint: seconds of each idle-CPU reading (None: the longest healthcheck interval, 10 to 65 s)
    idle_cpu_window: float | None = None


SMOKE = Settings(
    runs=1, cold_runs=1, cold_base=False,
    tcp_messages=(20, 2), ss_messages=(10, 1), udp_messages=(20, 2), socket_seconds=10.0,
    ftp_size=1_000_000, ftp_logins=20, ftp_login_seconds=10.0, ftp_seconds=30.0,
    smtp_loads=((1, 1000, 5), (16, 1000, 16), (1, 100_000, 2), (16, 100_000, 16)), smtp_e2e=(16, 1000, 16),
    news_posts=((1, 5), (16, 16)), news_over=50, news_fetches=((1, 10), (16, 2)), idle_cpu_window=4.0,
)
