"""Captures of real sessions across the lab, and their ladder diagrams.

``make capture`` (tools/capture.py) records a host's traffic from a helper container in the
host's network namespace; ``lab-capture`` does it on the client; ``lab-ladder`` draws it.
Here scripted sessions are captured, the pcap is parsed with dpkt on the host, and the
ladder is checked for the chapter's pictures: the TCP handshake, FTP's data connection
opened by the server in active mode and by the client in passive mode, SMTP's dialogue in
the clear on port 25 and only TLS records after STARTTLS on 587, NNTP's GROUP and XHDR.
The server hosts keep no capabilities before, during and after a capture.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from socklab.see import ladder as L
from tools import capture as capture_tool

ROOT = Path(__file__).resolve().parents[2]

CAPTURES = "/home/student/workspace/captures"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def captures(lab) -> Path:
    """workspace/captures, the student's (uid 1000), as make capture leaves it."""
    folder = lab.workspace / "captures"
    folder.mkdir(exist_ok=True)
    os.chown(folder, 1000, 1000)
    return folder


def names(lab) -> dict[str, str]:
    """Address -> lab host name of the test lab (what lab-ladder finds by DNS in the lab)."""
    found = {}
    for service in lab.services:
        c = lab.container(service)
        c.reload()
        for net in c.attrs["NetworkSettings"]["Networks"].values():
            found[net["IPAddress"]] = service
    return found


def assert_no_capabilities(lab, host: str) -> None:
    c = lab.container(host)
    c.reload()
    assert not c.attrs["HostConfig"]["CapAdd"], c.attrs["HostConfig"]["CapAdd"]
    assert c.attrs["HostConfig"]["CapDrop"] == ["ALL"]
    status = lab.exec(host, ["cat", "/proc/1/status"])
    assert status.ok, status
    caps = dict(re.findall(r"^(Cap\w+):\s+([0-9a-f]+)$", status.stdout, re.M))
    assert caps["CapEff"] == caps["CapPrm"] == caps["CapBnd"] == "0" * 16, caps


def helpers_of(lab, host: str) -> list[dict]:
    """The capture helpers (running or not) in *host*'s network namespace."""
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", "label=socklab.capture=1"],
                         capture_output=True, text=True, check=True).stdout.split()
    if not ids:
        return []
    found = json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True).stdout or "[]")
    return [h for h in found if h["HostConfig"]["NetworkMode"] == f"container:{lab.container(host).id}"]


@contextlib.contextmanager
def capturing(lab, host: str, path: Path, seconds: float = 180):
    """Capture on *host* (in a thread) while the block runs; yields the Recording holder."""
    ready, stop, result = threading.Event(), threading.Event(), {}

    def run() -> None:
        try:
            result["recording"] = capture_tool.capture(lab.container(host).id, path, seconds=seconds,
                                                       ready=ready, stop=stop)
        except BaseException as exc:        # reported by the test, not lost in the thread
            result["error"] = exc
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert ready.wait(60), "tcpdump never said it was listening"
        assert "error" not in result, result.get("error")
        yield result
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive(), "the capture did not end when asked"
    assert "error" not in result, result.get("error")
    rec = result["recording"]
    assert rec.ok and rec.returncode == 0, rec.stderr
    assert rec.packets and rec.packets > 0, rec.stderr


def ladder_text(lab, pcap: Path) -> str:
    """lab-ladder in the client, where the lab's names resolve; the picture is written beside."""
    res = lab.exec("client", ["lab-ladder", f"{CAPTURES}/{pcap.name}", "--lines", "2"], user="student",
                   env={"SOCKLAB_LANG": "en"})
    assert res.ok, res
    return res.stdout


def in_order(text: str, *patterns: str) -> list[int]:
    """The numbers of the lines where each regex matches, each after the one before; fails if not."""
    lines, found, at = text.splitlines(), [], 0
    for pattern in patterns:
        for i in range(at, len(lines)):
            if re.search(pattern, lines[i]):
                found.append(i)
                at = i + 1
                break
        else:
            pytest.fail(f"no line matching {pattern!r} after line {at} of the ladder:\n{text}")
    return found


def arrow_of(line: str) -> str:
    """'right' or 'left': which way the arrow of one text row of the ladder points."""
    return "right" if "►" in line else "left" if "◄" in line else "none"


def check_picture(pcap: Path) -> None:
    svg, png = pcap.with_suffix(".svg"), pcap.with_suffix(".png")
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    data = png.read_bytes()
    assert data.startswith(PNG) and len(data) > 1000, len(data)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 300 and height > 300, (width, height)


def test_ftp_active_and_passive_captured_on_the_server_host(lab, captures):
    assert_no_capabilities(lab, "ftp")
    pcap = captures / "ftp-modes.pcap"
    with capturing(lab, "ftp", pcap):
        helpers = helpers_of(lab, "ftp")
        assert len(helpers) == 1 and helpers[0]["State"]["Running"]
        assert set(helpers[0]["HostConfig"]["CapAdd"]) == {"CAP_NET_RAW", "CAP_SETUID", "CAP_SETGID"} or \
            set(helpers[0]["HostConfig"]["CapAdd"]) == {"NET_RAW", "SETUID", "SETGID"}
        assert_no_capabilities(lab, "ftp")          # during: the server itself gained nothing
        passive = lab.exec("client", ["ftp-client", "ls", "/pub"])
        assert passive.ok, passive
        active = lab.exec("client", ["ftp-client", "--active", "ls", "/pub"])
        assert active.ok, active
    assert_no_capabilities(lab, "ftp")
    assert helpers_of(lab, "ftp") == [], "the capture helper was not removed"

    # the packets parse (dpkt, on this side), and the model says who opened the data connections
    model = L.build_ladder(L.read_capture(pcap), names(lab))
    data = [c for c in model.connections if c.data_of is not None]
    assert [(c.mode, model.name(c.client[0]), model.name(c.server[0])) for c in data] == [
        ("passive", "client", "ftp"), ("active", "ftp", "client")], model.connections

    # make ladder's way: lab-ladder in a lab-image container on the lab's network, as the folder's owner
    out = io.StringIO()
    code = capture_tool.ladder(pcap, network=lab.network.name, image=lab.tools.LAB_IMAGE, hosts=sorted(lab.services),
                               out=out, lang="en", extra=["--lines", "2"])
    text = out.getvalue()
    assert code == 0, text
    assert f"picture: {pcap.with_suffix('.svg')} and {pcap.with_suffix('.png')}" in text, "host paths"
    assert pcap.with_suffix(".png").stat().st_uid == 1000, "the picture belongs to the folder's owner"
    rows = text.splitlines()
    header = next(row for row in rows if "time (s)" in row)
    assert header.split()[-2:] == ["client", "ftp"], header
    passive_rows = in_order(text, r"SYN  \d+ → 21$", r"220 ", r"USER anonymous", r"230 ", r"PASV$",
                            r"227 Entering passive mode", r"FTP data connection, passive mode",
                            r"LIST /pub", r"data connection: [\d,]+ bytes", r"226 ")
    assert arrow_of(rows[passive_rows[0]]) == "right"          # client -> ftp
    assert arrow_of(rows[passive_rows[6]]) == "right", "passive mode: the client opens the data connection"
    # active mode: pyftpdlib connects to the client's port as soon as PORT names it
    later = rows[passive_rows[-1] + 1:]
    active_rows = in_order("\n".join(later), r"SYN  \d+ → 21$", r"PORT \d+,\d+,\d+,\d+,\d+,\d+$",
                           r"SYN  \d+ → \d+  \(FTP data connection, active mode", r"200 ", r"LIST /pub",
                           r"data connection: [\d,]+ bytes", r"226 ")
    assert arrow_of(later[active_rows[2]]) == "left", "active mode: the server opens the data connection"
    assert "═" in later[active_rows[2]]
    check_picture(pcap)


def test_every_kind_of_session_captured_on_the_client_host(lab, captures):
    """make capture without HOST: the client's traffic with every server it talks to."""
    pcap = captures / "client-all.pcap"
    with capturing(lab, "client", pcap):
        steps = [
            ["tcp-client", "-m", "hello ladder"],
            ["mail-send", "--port", "25", "-f", "someone@example.com", "--to", "bob@lab.test",
             "-s", "plain", "-b", "seen in the clear"],
            ["mail-send", "--to", "bob@lab.test", "-s", "secret", "-b", "never seen"],
            ["news-client", "latest", "-n", "3", "-a", ""],
        ]
        for argv in steps:
            res = lab.exec("client", argv)
            assert res.ok, f"{argv}: {res}"
    model = L.build_ladder(L.read_capture(pcap), names(lab))
    by_port = {c.server[1]: c for c in model.connections}
    assert {8888, 25, 587, 119} <= set(by_port), model.connections
    # after STARTTLS on 587 nothing but TLS records: no AUTH, no MAIL FROM, no body
    submission = [a for a in model.arrows if a.conn == by_port[587].number]
    labels = [a.lines()[0] for a in submission]
    starttls = [x.upper() for x in labels].index("STARTTLS")
    after = labels[starttls + 2:]
    assert after and all(x.startswith("TLS ") or x in ("FIN", "ACK", "RST") for x in after), after
    assert any(x.startswith("TLS ClientHello") for x in after) and \
        any("application data" in x for x in after), labels

    text = ladder_text(lab, pcap)
    assert "never seen" not in text and "AUTH" not in text
    in_order(text, r"SYN  \d+ → 8888", r"  hello ladder$", r"\] hello ladder$", r"  FIN$")
    # smtplib writes its commands in lower case: "ehlo", "mail FROM:", "rcpt TO:", "data"
    in_order(text, r"SYN  \d+ → 25$", r"220 ", r"(?i)EHLO ", r"250-", r"(?i)MAIL FROM:<someone@example.com>",
             r"250 ", r"(?i)RCPT TO:<bob@lab.test>", r"(?i)  DATA$", r"354 ", r"more lines", r"250 ", r"QUIT$",
             r"221 ")
    plain = [a for a in model.arrows if a.conn == by_port[25].number and a.kind == "text"]
    assert any(b"seen in the clear" in a.text for a in plain), "port 25: the message itself is on the wire"
    in_order(text, r"SYN  \d+ → 587$", r"220 ", r"(?i)EHLO ", r"(?i)STARTTLS$", r"220 ", r"TLS ClientHello",
             r"TLS ServerHello", r"TLS application data, [\d,]+ bytes")
    in_order(text, r"SYN  \d+ → 119$", r"200 |201 ", r"GROUP comp.lang.python", r"211 ",
             r"XHDR subject \d+-\d+", r"221 ")
    check_picture(pcap)


def test_lab_capture_in_the_client_shell(lab, captures):
    """lab-capture HOST: tcpdump on the client, filtered to that host; stopped like Ctrl-C."""
    driver = r"""
import signal, subprocess, sys, time
cap = subprocess.Popen(["lab-capture", "tcp-server", "--seconds", "90"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
line = cap.stderr.readline()            # "capturing ... into ...": tcpdump listens
if "capturing" not in line:
    print("not listening:", line, cap.stderr.read(), file=sys.stderr); sys.exit(3)
subprocess.run(["tcp-client", "-m", "one", "-m", "two"], check=True, stdout=subprocess.DEVNULL)
subprocess.run(["udp-client", "-m", "not this host"], check=True, stdout=subprocess.DEVNULL)
cap.send_signal(signal.SIGINT)          # what Ctrl-C does
out, err = cap.communicate(timeout=60)
print(out); print(line + err, file=sys.stderr); sys.exit(cap.returncode)
"""
    res = lab.exec("client", ["python3", "-c", driver], user="student", env={"SOCKLAB_LANG": "en"})
    assert res.ok, res
    assert re.search(r"\d+ packets captured in /home/student/workspace/captures/tcp-server-\d{8}-\d{6}\.pcap",
                     res.stderr), res
    in_order(res.stdout, r"hosts: client .*tcp-server", r"SYN  \d+ → 8888", r"  one$", r"\] one$", r"  two$",
             r"\] two$", r"  FIN$")
    assert "udp-server" not in res.stdout, "the filter 'host tcp-server' keeps other hosts out"
    pcap = sorted(captures.glob("tcp-server-*.pcap"))[-1]
    assert pcap.stat().st_uid == 1000, "the student's file"
    assert len(L.read_capture(pcap).packets) >= 6
    check_picture(pcap)


def test_lab_capture_of_an_unknown_host_says_so(lab):
    res = lab.exec("client", ["lab-capture", "no-such-host", "--seconds", "1"], env={"SOCKLAB_LANG": "en"})
    assert res.exit_code == 2 and "no host called no-such-host" in res.stderr, res
