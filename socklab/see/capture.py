"""``lab-capture [HOST]``: record the client's traffic with a host, then draw its ladder.

In the client shell (``make shell``)::

    lab-capture ftp                 # until Ctrl-C: everything between the client and ftp
    lab-capture ftp --seconds 20    # or for 20 s, or --count 100 packets
    lab-capture                     # all the client's traffic

The client has no Docker, so the capture runs on the client itself: tcpdump (which holds the
capability to capture as a file capability) with the filter ``host ftp``.  That sees every
conversation a student starts from the client; ``make capture HOST=ftp`` on the host sees
all of ftp's traffic, also with other hosts.  The file is
``~/workspace/captures/<host>-<time>.pcap`` (open it in Wireshark on the host), followed by
a summary and the ladder diagram (``lab-ladder``), whose picture is saved beside it.

:func:`record` is the recording loop shared with ``make capture`` (tools/capture.py), which
runs tcpdump in a helper container instead: standard library only, like tools/.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable

from socklab.i18n import _, set_language

WORKSPACE = Path(os.environ.get("SOCKLAB_WORKSPACE", "~/workspace")).expanduser()
QUIET, DRAIN = 0.3, 3.0     # stopping: wait until tcpdump wrote nothing for QUIET s, at most DRAIN s


@dataclass
class Recording:
    path: Path
    packets: int | None         # what tcpdump says it captured (None: it did not say)
    returncode: int
    stderr: str                 # tcpdump's messages
    listening: bool             # tcpdump got as far as "listening on"
    bytes: int = 0
    dropped: int = 0            # packets the kernel dropped because tcpdump could not keep up

    def report(self) -> str:
        """One line (two with drops) for the user: how many packets, and where."""
        lines = [_("{packets} packets captured in {path}").format(
            packets=self.packets if self.packets is not None else "?", path=self.path)]
        if self.dropped:
            lines.append(_("{count} packets were dropped by the kernel (tcpdump could not keep up): "
                           "the capture and its ladder miss them").format(count=self.dropped))
        return "\n".join(lines)

    @property
    def ok(self) -> bool:
        return self.listening and self.path.exists()


def capture_name(host: str, when: float | None = None) -> str:
    """``<host>-<time>.pcap``: sorts by time, one file per capture."""
    return f"{host}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(when))}.pcap"


def record(argv: list[str], path: Path, *, interrupt: Callable[[subprocess.Popen], None],
           seconds: float | None = None, live: IO[bytes] | None = None,
           ready: threading.Event | None = None, stop: threading.Event | None = None,
           on_listening: Callable[[str], None] | None = None, grace: float = 10.0) -> Recording:
    """Run a tcpdump that writes a pcap to its standard output (``-w -``) and save it in *path*.

    *live* gets a copy of the pcap stream as it comes (Wireshark reading a pipe).  The
    capture ends when tcpdump does (``-c``), after *seconds*, when *stop* is set, or on
    Ctrl-C: then *interrupt* asks tcpdump to stop (SIGINT, which makes it flush and exit),
    and after *grace* seconds it is killed.  *ready* is set once tcpdump is listening.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # A session of its own: Ctrl-C in the terminal reaches this program only, which lets
    # tcpdump write out what it still holds before telling it to stop (a tcpdump that gets
    # SIGINT at once drops the packets not yet written, the end of the last conversation).
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    listening = threading.Event()
    messages: list[str] = []
    written = [0]
    last_data = [time.monotonic()]      # when tcpdump last wrote something

    def pump_stdout() -> None:
        sink = live
        with open(path, "wb") as f:
            while True:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                f.write(chunk)
                f.flush()
                written[0] += len(chunk)
                last_data[0] = time.monotonic()
                if sink is not None:
                    try:
                        sink.write(chunk)
                        sink.flush()
                    except (BrokenPipeError, OSError):
                        sink = None         # the reader (Wireshark) went away; the file goes on

    def pump_stderr() -> None:
        for raw in iter(proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            messages.append(line)
            if "listening on" in line and not listening.is_set():
                listening.set()
                if on_listening:
                    on_listening(line)
                if ready is not None:
                    ready.set()

    threads = [threading.Thread(target=pump_stdout, daemon=True), threading.Thread(target=pump_stderr, daemon=True)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + seconds if seconds else None
    asked = None            # when the capture was asked to end
    told = False            # tcpdump was sent its SIGINT
    try:
        while proc.poll() is None:
            try:
                now = time.monotonic()
                if asked is None and ((deadline and now >= deadline) or (stop is not None and stop.is_set())):
                    asked = now
                # once asked: tell tcpdump when it has written nothing for QUIET s (it has
                # caught up), or after DRAIN s on a host that is never quiet
                if asked is not None and not told and (now - last_data[0] >= QUIET or now - asked >= DRAIN):
                    told = True
                    interrupt(proc)
                if asked is not None and now - asked > grace:
                    proc.kill()
                proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
            except KeyboardInterrupt:
                if asked is not None:
                    raise                       # a second Ctrl-C: stop at once
                asked = time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for t in threads:
            t.join(timeout=5)
    stderr = "\n".join(messages)
    found = re.search(r"(\d+) packets? captured", stderr)
    dropped = re.search(r"(\d+) packets? dropped by kernel", stderr)
    return Recording(path, int(found.group(1)) if found else None, proc.returncode, stderr,
                     listening.is_set(), written[0], int(dropped.group(1)) if dropped else 0)


def tcpdump_args(*, count: int | None, interface: str, bpf: str | None) -> list[str]:
    """tcpdump's options for a capture to standard output."""
    # --immediate-mode: each packet reaches tcpdump at once (not in blocks, up to 1 s late,
    # of which the last would be lost when the capture stops); -B 32768: a 32 MiB buffer, so
    # that a fast download is not dropped by the kernel while tcpdump writes; -U: each packet
    # goes out at once (a live Wireshark sees it); -p: no promiscuous mode, the host's own
    # traffic is all we want
    args = ["--immediate-mode", "-B", "32768", "-p", "-U", "-i", interface, "-w", "-"]
    if count:
        args += ["-c", str(count)]
    if bpf:
        args.append(bpf)
    return args


def host_filter(host: str) -> str:
    """``host A or host B``: the addresses of lab host *host* (an unknown name is an error)."""
    try:
        addresses = sorted({info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})
    except socket.gaierror:
        raise ValueError(_("no host called {host} in this lab").format(host=host)) from None
    return " or ".join(f"host {a}" for a in addresses)


def default_interface() -> str:
    """The interface of the default route (the lab network's), else eth0."""
    try:
        with open("/proc/net/route") as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 2 and fields[1] == "00000000":
                    return fields[0]
    except OSError:
        pass
    return "eth0"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="lab-capture",
        description=_("Record the client's traffic with a lab host into ~/workspace/captures/HOST-TIME.pcap "
                      "(open it in Wireshark), then print a summary and the ladder diagram. The capture runs on "
                      "the client with the filter 'host HOST': it sees every conversation you start from the "
                      "client. To see all of a host's traffic, also with other hosts, run `make capture "
                      "HOST=ftp` on the host."))
    p.add_argument("host", nargs="?", help=_("the lab host (ftp, mail, news, tcp-server, ...); "
                                             "default: all the client's traffic"))
    p.add_argument("--seconds", type=float, metavar="N", help=_("stop after N seconds (default: at Ctrl-C)"))
    p.add_argument("--count", type=int, metavar="N", help=_("stop after N packets"))
    p.add_argument("--interface", default=None, help=_("capture on this interface (default: the lab network's)"))
    p.add_argument("--no-ladder", action="store_true", help=_("only record, no summary or ladder"))
    p.add_argument("--lang", choices=["zh", "en"], help=_("language of the messages (default: from the locale)"))
    args = p.parse_args(argv)
    set_language(args.lang)
    try:
        bpf = host_filter(args.host) if args.host else None
    except ValueError as exc:
        print(f"lab-capture: {exc}", file=sys.stderr)
        return 2
    path = WORKSPACE / "captures" / capture_name(args.host or "client")
    argv_ = ["tcpdump", *tcpdump_args(count=args.count, interface=args.interface or default_interface(), bpf=bpf)]

    def listening(_line: str) -> None:
        what = _("the client's traffic with {host}").format(host=args.host) if args.host else \
            _("all the client's traffic")
        limit = (_("for {seconds} s").format(seconds=f"{args.seconds:g}") if args.seconds else
                 _("for {count} packets").format(count=args.count) if args.count else _("until Ctrl-C"))
        print(_("capturing {what} {limit} into {path}").format(what=what, limit=limit, path=path),
              file=sys.stderr, flush=True)

    try:
        rec = record(argv_, path, seconds=args.seconds, on_listening=listening,
                     interrupt=lambda proc: proc.send_signal(signal.SIGINT))
    except FileNotFoundError:
        print("lab-capture: " + _("tcpdump is not installed"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if not rec.ok:
        print("lab-capture: " + _("tcpdump could not capture:") + "\n" + rec.stderr, file=sys.stderr)
        return 1
    print(rec.report(), file=sys.stderr)
    if args.no_ladder:
        return 0
    print(file=sys.stderr)
    from socklab.see import ladder
    hosts = ",".join(ladder.LAB_HOSTS)
    return ladder.main([str(path), "--hosts", hosts] + (["--lang", args.lang] if args.lang else []))


if __name__ == "__main__":
    sys.exit(main())
