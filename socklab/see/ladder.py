"""``lab-ladder FILE.pcap``: a capture drawn as a ladder (sequence) diagram.

One column per host, named by its lab name (``client``, ``ftp``, ``mail``, ...), time going
down, one arrow per thing that went over the wire::

        time  conn        client            ftp
       0.000    #1          │──────────────►│   SYN  41234 → 21
       0.000    #1          │◄──────────────│   SYN, ACK
       0.000    #1          │──────────────►│   ACK
       0.004    #1          │◄──────────────│   220 pyftpdlib ready.

What is drawn, and how:

* TCP: the handshake (SYN / SYN, ACK / ACK), every protocol line (FTP, SMTP, POP3, IMAP, NNTP
  commands and replies, the timestamp servers' messages), FIN and the ACK that answers it,
  RST.  Other pure ACKs are left out (``--acks`` shows them).
* FTP data connections are found from the control connection's PASV/EPSV replies and
  PORT/EPRT commands and drawn as arrows of their own, marked "data connection": in active
  mode the SYN goes from the server to the client, in passive mode from the client.
* TLS (STARTTLS or TLS from the first byte) shows what is visible: the handshake messages
  sent in the clear ("TLS ClientHello") and the encrypted records with their size, never
  anything made up in their place.
* Bulk data stays readable: consecutive segments of one direction of one connection become
  one arrow with a byte count.
* UDP datagrams, and ICMP errors (a datagram to a closed port), one arrow each.

Packets are parsed with dpkt (Debian's python3-dpkt).  Names come from the lab's DNS: each
lab host name is resolved (getaddrinfo) and the addresses mapped back to it; an address no
lab name has is shown as it is.  The picture is an SVG written beside the capture, and a
PNG made from it with rsvg-convert (Debian's librsvg2-bin), both in the lab image.
"""

from __future__ import annotations

import argparse
import html
import ipaddress
import re
import shutil
import socket
import subprocess
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from socklab.i18n import _, ngettext, set_language

# The hosts of the lab (compose.yaml's services; tests/unit/test_ladder.py keeps the two
# lists the same).  `make ladder` passes compose.yaml's list itself with --hosts.
LAB_HOSTS = ("client", "tcp-server", "udp-server", "ss-server", "unix-server", "ftp", "ftp-backup",
             "mail", "news", "student-server")

# What a server port speaks: names a connection in the summary.
SERVICES = {21: "FTP", 20: "FTP data", 25: "SMTP", 587: "SMTP submission", 465: "SMTP over TLS",
            110: "POP3", 995: "POP3 over TLS", 143: "IMAP", 993: "IMAP over TLS", 119: "NNTP",
            563: "NNTP over TLS", 8888: "timestamp", 7000: "exercise runner", 53: "DNS"}

SYN, ACK, FIN, RST = 0x02, 0x10, 0x01, 0x04
TLS_TYPES = {20: "ChangeCipherSpec", 21: "Alert", 22: "Handshake", 23: "application data", 24: "Heartbeat"}
TLS_HANDSHAKES = {0: "HelloRequest", 1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket",
                  5: "EndOfEarlyData", 8: "EncryptedExtensions", 11: "Certificate", 12: "ServerKeyExchange",
                  13: "CertificateRequest", 14: "ServerHelloDone", 15: "CertificateVerify",
                  16: "ClientKeyExchange", 20: "Finished"}
TEXT_KEEP = 8192        # bytes of a text arrow kept for its label (the rest is only counted)
BULK_TEXT = 1000        # a text segment this long is bulk: the next one of the same direction joins it


class LadderError(Exception):
    """A capture that cannot be read; one line for the user."""


# --------------------------------------------------------------------------- packets

@dataclass
class Packet:
    time: float
    src: str
    dst: str
    proto: str                  # "tcp", "udp", "icmp"
    size: int                   # bytes of the frame on the wire
    sport: int = 0
    dport: int = 0
    flags: int = 0
    seq: int = 0
    ack: int = 0
    payload: bytes = b""
    icmp: tuple[int, int] | None = None
    quoted: tuple[str, str, str, int, int] | None = None   # ICMP error: proto, src, dst, sport, dport


@dataclass
class Capture:
    packets: list[Packet]
    link: str
    frames: int = 0             # every frame in the file
    other: int = 0              # frames that are not IP (ARP, ...)
    truncated: bool = False     # the file ends in the middle of a frame


LINK_NAMES = {0: "BSD loopback", 1: "Ethernet", 12: "raw IP", 14: "raw IP", 101: "raw IP",
              108: "OpenBSD loopback", 113: "Linux cooked (SLL)", 228: "raw IPv4", 229: "raw IPv6",
              276: "Linux cooked v2 (SLL2)"}


def _address(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def _network_layer(dpkt, link: int, buf: bytes):
    """The IP (or IPv6) packet inside one frame, or None."""
    if link == 1:
        frame = dpkt.ethernet.Ethernet(buf)
    elif link == 113:
        frame = dpkt.sll.SLL(buf)
    elif link == 276:
        frame = dpkt.sll2.SLL2(buf)
    elif link in (0, 108):
        frame = dpkt.loopback.Loopback(buf)
    elif link in (12, 14, 101, 228, 229):
        version = buf[0] >> 4 if buf else 0
        return dpkt.ip.IP(buf) if version == 4 else dpkt.ip6.IP6(buf) if version == 6 else None
    else:
        raise LadderError(_("link type {link} is not supported (Ethernet, Linux cooked and raw IP are)")
                          .format(link=link))
    inner = frame.data
    return inner if isinstance(inner, (dpkt.ip.IP, dpkt.ip6.IP6)) else None


def read_capture(path: str | Path) -> Capture:
    """Every TCP, UDP and ICMP packet of a pcap or pcapng file, parsed by dpkt."""
    import dpkt         # Debian's python3-dpkt in the lab image; the test extra on the host

    packets: list[Packet] = []
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise LadderError(f"{path}: {exc.strerror or exc}") from None
    with f:
        magic = f.read(4)
        f.seek(0)
        if not magic:
            return Capture([], "-", truncated=True)
        try:
            reader = dpkt.pcapng.Reader(f) if magic == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(f)
        except (ValueError, dpkt.UnpackError) as exc:
            raise LadderError(_("{path} is not a pcap or pcapng file ({reason})").format(path=path, reason=exc)) \
                from None
        link = reader.datalink()
        capture = Capture(packets, LINK_NAMES.get(link, str(link)))
        short = False           # the newest frame is shorter than its IP header says
        try:
            for ts, buf in reader:
                capture.frames += 1
                try:
                    ip = _network_layer(dpkt, link, buf)
                except (dpkt.UnpackError, IndexError):
                    ip = None
                short = isinstance(ip, dpkt.ip.IP) and ip.len > len(ip)
                if ip is None or short:
                    capture.other += 1
                    continue
                packet = _transport(dpkt, ts, len(buf), ip)
                if packet is None or _chatter(packet):
                    capture.other += 1
                else:
                    packets.append(packet)
        except (dpkt.NeedData, dpkt.UnpackError):
            short = True
        capture.truncated = short           # the file ends in the middle of a frame (tcpdump was killed)
    if packets:
        start = packets[0].time
        for p in packets:
            p.time -= start
    return capture


def _chatter(packet: Packet) -> bool:
    """The link's own housekeeping, not a conversation between hosts: IPv6 neighbour and
    router discovery, MLD and any other multicast or broadcast (counted as "other")."""
    dst = ipaddress.ip_address(packet.dst)
    return (dst.is_multicast or str(dst) == "255.255.255.255"
            or (packet.proto == "icmp" and dst.version == 6 and dst.is_link_local))


def _transport(dpkt, ts: float, size: int, ip) -> Packet | None:
    src, dst, seg = _address(ip.src), _address(ip.dst), ip.data
    if isinstance(seg, dpkt.tcp.TCP):
        return Packet(ts, src, dst, "tcp", size, seg.sport, seg.dport, seg.flags, seg.seq, seg.ack, bytes(seg.data))
    if isinstance(seg, dpkt.udp.UDP):
        return Packet(ts, src, dst, "udp", size, seg.sport, seg.dport, payload=bytes(seg.data))
    if isinstance(seg, (dpkt.icmp.ICMP, dpkt.icmp6.ICMP6)):
        packet = Packet(ts, src, dst, "icmp", size, icmp=(seg.type, seg.code))
        inner = getattr(seg.data, "data", None)        # an error quotes the datagram it is about
        if isinstance(inner, (dpkt.ip.IP, dpkt.ip6.IP6)) and isinstance(inner.data, (dpkt.udp.UDP, dpkt.tcp.TCP)):
            kind = "udp" if isinstance(inner.data, dpkt.udp.UDP) else "tcp"
            packet.quoted = (kind, _address(inner.src), _address(inner.dst), inner.data.sport, inner.data.dport)
        return packet
    return None


# --------------------------------------------------------------------------- the ladder

@dataclass
class Arrow:
    """One arrow of the diagram: something that went from *src* to *dst* (addresses)."""
    time: float
    src: str
    dst: str
    kind: str           # handshake, close, reset, ack, text, bytes, tls, udp, icmp
    head: str = ""      # the label of a handshake/close/udp/icmp arrow
    conn: int | None = None
    data_connection: bool = False
    nbytes: int = 0     # payload bytes this arrow stands for
    segments: int = 0
    end: float = 0.0
    text: bytearray = field(default_factory=bytearray)     # text: the first TEXT_KEEP bytes
    newlines: int = 0   # text: line ends in all of it
    tls: list[str] = field(default_factory=list)           # tls: record names, in order
    tls_appdata: int = 0
    last_segment: int = 0       # size of the newest segment joined in
    open_line: bool = False     # text: the newest segment ended in the middle of a line

    def lines(self, max_lines: int = 4) -> list[str]:
        """The label: the first line, then more lines of a text arrow (up to *max_lines*)."""
        if self.kind == "text":
            return _text_label(self, max_lines)
        if self.kind == "tls":
            label = _tls_label(self)
        elif self.kind == "bytes" and self.segments > 1:
            label = _("{size} bytes in {segments} segments").format(size=f"{self.nbytes:,}", segments=self.segments)
        elif self.kind == "bytes":
            label = _("{size} bytes").format(size=f"{self.nbytes:,}")
        else:
            label = self.head
        if self.data_connection and self.kind in ("bytes", "tls"):
            label = _("data connection: {what}").format(what=label)
        return [label]


def _tls_label(arrow: Arrow) -> str:
    names: list[str] = []
    for name in arrow.tls:
        if name == "application data":
            continue
        if names and names[-1].split(" ×")[0] == name:
            count = int(names[-1].split(" ×")[1]) + 1 if " ×" in names[-1] else 2
            names[-1] = f"{name} ×{count}"
        else:
            names.append(name)
    if arrow.tls_appdata or "application data" in arrow.tls:
        names.append(_("application data, {size} bytes").format(size=f"{arrow.tls_appdata:,}"))
    if not names:       # only the middle of a record in these segments
        names.append(_("record data, {size} bytes").format(size=f"{arrow.nbytes:,}"))
    return "TLS " + ", ".join(names)


def printable(text: str) -> str:
    """*text* with control characters shown as \\xNN (a label never moves the cursor)."""
    out = []
    for ch in text:
        if ch == "\t":
            out.append("    ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _text_label(arrow: Arrow, max_lines: int) -> list[str]:
    raw = bytes(arrow.text).decode("utf-8", "replace")
    lines = raw.split("\n")
    if lines and lines[-1] == "":
        lines.pop()             # the text ended with a line end
    lines = [printable(line.rstrip("\r")) for line in lines]
    total = arrow.newlines + (1 if arrow.open_line else 0)
    total = max(total, len(lines))
    if not lines:
        lines = [""]
    shown = lines[:max(1, max_lines)]
    rest = total - len(shown)
    if rest > 0:
        shown.append(_("... (+{lines} more lines, {size} bytes in all)").format(
            lines=f"{rest:,}", size=f"{arrow.nbytes:,}"))
    return shown


def looks_like_text(data: bytes) -> bool:
    """Mostly printable UTF-8: a protocol line, not binary data."""
    if not data:
        return False
    text = data.decode("utf-8", "replace")
    good = sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t")
    return good >= 0.9 * len(text)


def looks_like_tls(data: bytes) -> bool:
    """Does *data* start with a TLS record header (type 20-24, version 3.x)?"""
    return len(data) >= 3 and data[0] in TLS_TYPES and data[1] == 3 and data[2] <= 4


@dataclass
class Direction:
    """One direction of a TCP connection."""
    next_seq: int | None = None
    syn: bool = False
    fin_seq: int | None = None
    fin_acked: bool = False
    tls: bool = False
    tls_buf: bytearray = field(default_factory=bytearray)
    tls_skip: int = 0           # bytes of a record body still to come
    tls_encrypted: bool = False


@dataclass
class Connection:
    number: int
    client: tuple[str, int]     # who sent the SYN (or the likely client, if no SYN was seen)
    server: tuple[str, int]
    service: str
    data_of: int | None = None  # an FTP data connection: the control connection's number
    mode: str | None = None     # "active" / "passive" for FTP data connections
    handshake: str = ""         # "syn", "synack" until the handshake's ACK
    packets: int = 0
    bytes: int = 0
    payload: int = 0
    retransmissions: int = 0
    opened: bool = False        # a SYN was seen
    closed: str = ""            # "FIN" or "RST"
    dirs: dict = field(default_factory=dict)
    last: Arrow | None = None   # the newest arrow of this connection


@dataclass
class Ladder:
    capture: Capture
    names: dict[str, str]
    arrows: list[Arrow] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    udp_flows: dict = field(default_factory=dict)       # (src, sport, dst, dport) -> [packets, bytes]

    def name(self, address: str) -> str:
        return self.names.get(address, address)

    @property
    def hosts(self) -> list[str]:
        """The columns: hosts in order of their first arrow, the client first."""
        order: list[str] = []
        for arrow in self.arrows:
            for address in (arrow.src, arrow.dst):
                if self.name(address) not in order:
                    order.append(self.name(address))
        if "client" in order:
            order.remove("client")
            order.insert(0, "client")
        return order

    @property
    def duration(self) -> float:
        return self.capture.packets[-1].time if self.capture.packets else 0.0


def _signed(delta: int) -> int:
    """A difference of 32-bit sequence numbers, as a signed number."""
    delta &= 0xFFFFFFFF
    return delta - (1 << 32) if delta >= 1 << 31 else delta


class Builder:
    """Turns packets into arrows, one packet at a time."""

    def __init__(self, capture: Capture, names: dict[str, str], acks: bool) -> None:
        self.ladder = Ladder(capture, dict(names))
        self.acks = acks
        self.conns: dict[frozenset, Connection] = {}
        self.expect: dict[tuple[str, int], tuple[int, str]] = {}   # FTP: endpoint -> (control, mode)

    def build(self) -> Ladder:
        for packet in self.ladder.capture.packets:
            if packet.proto == "tcp":
                self.tcp(packet)
            elif packet.proto == "udp":
                self.udp(packet)
            else:
                self.icmp(packet)
        return self.ladder

    def emit(self, packet: Packet, kind: str, head: str = "", conn: Connection | None = None) -> Arrow:
        arrow = Arrow(packet.time, packet.src, packet.dst, kind, head, end=packet.time,
                      conn=conn.number if conn else None,
                      data_connection=bool(conn and conn.data_of is not None))
        self.ladder.arrows.append(arrow)
        if conn is not None:
            conn.last = arrow
        return arrow

    # -- TCP

    def connection(self, p: Packet) -> Connection:
        key = frozenset([(p.src, p.sport), (p.dst, p.dport)])
        conn = self.conns.get(key)
        if conn is not None:
            return conn
        if p.flags & SYN and not p.flags & ACK:
            client, server = (p.src, p.sport), (p.dst, p.dport)
        elif p.flags & SYN:
            client, server = (p.dst, p.dport), (p.src, p.sport)
        elif p.dport in SERVICES or (p.sport not in SERVICES and p.dport < p.sport):
            client, server = (p.src, p.sport), (p.dst, p.dport)      # started before the capture
        else:
            client, server = (p.dst, p.dport), (p.src, p.sport)
        number = len(self.ladder.connections) + 1
        conn = Connection(number, client, server, SERVICES.get(server[1], "TCP"))
        for endpoint in (server, client):
            if endpoint in self.expect:
                conn.data_of, conn.mode = self.expect.pop(endpoint)
                conn.service = "FTP data ({mode})".format(mode=conn.mode)
                break
        conn.dirs = {client: Direction(), server: Direction()}
        self.conns[key] = conn
        self.ladder.connections.append(conn)
        return conn

    def tcp(self, p: Packet) -> None:
        conn = self.connection(p)
        conn.packets += 1
        conn.bytes += p.size
        d, other = conn.dirs[(p.src, p.sport)], conn.dirs[(p.dst, p.dport)]
        if p.flags & RST:
            conn.closed = "RST"
            self.emit(p, "reset", "RST", conn)
            return
        if p.flags & SYN:
            again = d.syn
            d.syn, d.next_seq = True, (p.seq + 1) & 0xFFFFFFFF
            if p.flags & ACK:
                label = "SYN, ACK"
                conn.handshake = "synack"
            else:
                conn.opened, conn.handshake = True, "syn"
                label = f"SYN  {p.sport} → {p.dport}"
                if conn.data_of is not None:
                    label += "  " + (_("(FTP data connection, active mode: the server connects)")
                                     if conn.mode == "active" else
                                     _("(FTP data connection, passive mode: the client connects)"))
            if again:
                label += "  " + _("(sent again)")
            self.emit(p, "handshake", label, conn)
            return
        data = self.new_data(conn, d, p)
        if conn.handshake == "synack" and (p.src, p.sport) == conn.client:
            conn.handshake = ""
            if not data and not p.flags & FIN:
                self.emit(p, "handshake", "ACK", conn)
                return
        if data:
            self.data(conn, d, p, data)
        if p.flags & FIN:
            if other.fin_seq is not None and p.ack == (other.fin_seq + 1) & 0xFFFFFFFF:
                other.fin_acked = True
            if d.fin_seq is None:
                d.fin_seq = (p.seq + len(p.payload)) & 0xFFFFFFFF
                conn.closed = conn.closed or "FIN"
                self.emit(p, "close", "FIN", conn)
            return
        if not p.payload:
            if other.fin_seq is not None and not other.fin_acked and p.ack == (other.fin_seq + 1) & 0xFFFFFFFF:
                other.fin_acked = True
                self.emit(p, "close", "ACK", conn)
            elif self.acks:
                self.emit(p, "ack", "ACK", conn)

    def new_data(self, conn: Connection, d: Direction, p: Packet) -> bytes:
        """The payload bytes not seen before (a retransmission repeats what was sent)."""
        if not p.payload:
            return b""
        if d.next_seq is None:
            d.next_seq = p.seq
        behind = _signed(d.next_seq - p.seq)
        if behind >= len(p.payload):
            conn.retransmissions += 1
            return b""
        data = p.payload[behind:] if behind > 0 else p.payload
        d.next_seq = (p.seq + len(p.payload)) & 0xFFFFFFFF
        return data

    def data(self, conn: Connection, d: Direction, p: Packet, data: bytes) -> None:
        conn.payload += len(data)
        if not d.tls and looks_like_tls(data) and not (conn.last and conn.last.kind == "text"
                                                      and conn.last.src == p.src and conn.last.open_line):
            d.tls = True
        if d.tls:
            kind = "tls"
        elif conn.data_of is not None:
            kind = "bytes"
        else:
            kind = "text" if looks_like_text(data) else "bytes"
        arrow = conn.last
        joins = (arrow is not None and arrow.kind == kind and arrow.src == p.src
                 and (kind != "text" or arrow.open_line or arrow.last_segment >= BULK_TEXT))
        if not joins:
            arrow = self.emit(p, kind, conn=conn)
        arrow.segments += 1
        arrow.nbytes += len(data)
        arrow.last_segment = len(data)
        arrow.end = p.time
        if kind == "tls":
            names, appdata = self.tls_records(d, data)
            arrow.tls += names
            arrow.tls_appdata += appdata
        elif kind == "text":
            room = TEXT_KEEP - len(arrow.text)
            if room > 0:
                arrow.text += data[:room]
            arrow.newlines += data.count(b"\n")
            arrow.open_line = not data.endswith(b"\n")
            if conn.service == "FTP":
                self.ftp(conn, p, data)

    def tls_records(self, d: Direction, data: bytes) -> tuple[list[str], int]:
        """The TLS records that start in *data* (names), and the application data bytes."""
        names, appdata = [], 0
        buf = data
        if d.tls_skip:
            used = min(d.tls_skip, len(buf))
            d.tls_skip -= used
            buf = buf[used:]
        buf = bytes(d.tls_buf) + buf
        d.tls_buf.clear()
        while buf:
            if len(buf) < 6:
                d.tls_buf += buf            # a record header split between segments
                break
            kind, length = buf[0], int.from_bytes(buf[3:5], "big")
            body = buf[5:5 + length]
            if kind == 23:
                names.append("application data")
                appdata += length
            elif kind == 22:
                if d.tls_encrypted or body[0] not in TLS_HANDSHAKES:
                    names.append("encrypted handshake")
                else:
                    names += self.handshake_messages(body)
                    if body[0] == 2 and b"\x00\x2b\x00\x02\x03\x04" in body:
                        d.tls_encrypted = True      # TLS 1.3: all after ServerHello is encrypted
            elif kind == 20:
                names.append("ChangeCipherSpec")
                d.tls_encrypted = True
            elif kind == 21:
                names.append("Alert" if not d.tls_encrypted else "encrypted Alert")
            else:
                names.append(TLS_TYPES.get(kind, f"record type {kind}"))
            if len(buf) < 5 + length:
                d.tls_skip = 5 + length - len(buf)
                break
            buf = buf[5 + length:]
        return names, appdata

    @staticmethod
    def handshake_messages(body: bytes) -> list[str]:
        names = []
        while len(body) >= 4:
            names.append(TLS_HANDSHAKES.get(body[0], f"handshake {body[0]}"))
            body = body[4 + int.from_bytes(body[1:4], "big"):]
        return names or ["Handshake"]

    def ftp(self, conn: Connection, p: Packet, data: bytes) -> None:
        """Learn the data connections an FTP control connection announces (PASV, EPSV, PORT, EPRT)."""
        text = data.decode("latin-1")
        for line in text.splitlines():
            if (p.src, p.sport) == conn.server:
                m = re.match(r"227 .*?(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", line)
                if m:       # the server's address as this connection sees it (NAT may rewrite the text)
                    self.expect[(conn.server[0], int(m.group(5)) * 256 + int(m.group(6)))] = (conn.number, "passive")
                m = re.match(r"229 .*\((.)\1\1(\d+)\1\)", line)
                if m:
                    self.expect[(conn.server[0], int(m.group(2)))] = (conn.number, "passive")
            else:
                m = re.match(r"(?i)PORT (\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", line)
                if m:
                    self.expect[(conn.client[0], int(m.group(5)) * 256 + int(m.group(6)))] = (conn.number, "active")
                m = re.match(r"(?i)EPRT (.)\d+\1[^|]*\1(\d+)\1", line)
                if m:
                    self.expect[(conn.client[0], int(m.group(2)))] = (conn.number, "active")

    # -- UDP and ICMP

    def udp(self, p: Packet) -> None:
        flow = self.ladder.udp_flows.setdefault((p.src, p.sport, p.dst, p.dport), [0, 0])
        flow[0] += 1
        flow[1] += len(p.payload)
        if looks_like_text(p.payload):
            first = p.payload.decode("utf-8", "replace").split("\n")[0].rstrip("\r")
            more = p.payload.count(b"\n") - (1 if p.payload.endswith(b"\n") else 0)
            label = f"UDP {p.sport} → {p.dport}  {printable(first)}"
            if more > 0:
                label += " " + _("(+{lines} more lines)").format(lines=more)
        elif p.dport == 53 or p.sport == 53:
            label = f"UDP {p.sport} → {p.dport}  DNS, " + _("{size} bytes").format(size=len(p.payload))
        else:
            label = f"UDP {p.sport} → {p.dport}  " + _("{size} bytes").format(size=f"{len(p.payload):,}")
        self.emit(p, "udp", label)

    def icmp(self, p: Packet) -> None:
        kind, code = p.icmp or (0, 0)
        names = {(3, 3): "port unreachable", (3, 1): "host unreachable", (3, 0): "network unreachable",
                 (8, 0): "echo request", (0, 0): "echo reply", (11, 0): "time exceeded",
                 (1, 4): "port unreachable", (128, 0): "echo request", (129, 0): "echo reply"}
        label = "ICMP " + names.get((kind, code), f"type {kind} code {code}")
        if p.quoted:
            proto, _src, _dst, sport, dport = p.quoted
            label += f"  ({proto.upper()} {sport} → {dport})"
        self.emit(p, "icmp" if kind in (3, 11, 1) else "udp", label)


def build_ladder(capture: Capture, names: dict[str, str] | None = None, *, acks: bool = False) -> Ladder:
    """The arrows of *capture*; *names* maps addresses to lab host names."""
    return Builder(capture, names or {}, acks).build()


def lab_names(hosts=LAB_HOSTS) -> dict[str, str]:
    """Address -> lab host name, by resolving every lab host name (getaddrinfo) on this network."""
    names: dict[str, str] = {}
    for host in hosts:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError):
            continue            # not in this lab (or not on this network)
        for info in infos:
            names.setdefault(info[4][0], host)
    return names


# --------------------------------------------------------------------------- the summary

def summary(ladder: Ladder, path: str | Path) -> str:
    cap = ladder.capture
    total = sum(p.size for p in cap.packets)
    lines = [_("capture {path}: {packets} packets, {size} bytes, {seconds:.3f} s ({link})").format(
        path=path, packets=len(cap.packets), size=f"{total:,}", seconds=ladder.duration, link=cap.link)]
    if cap.other:
        lines.append("  " + _("{frames} other frames (ARP, ...) are not drawn").format(frames=cap.other))
    if cap.truncated:
        lines.append("  " + _("the file ends in the middle of a packet (the capture was cut off)"))
    hosts = sorted({(ladder.name(a), a) for p in cap.packets for a in (p.src, p.dst)})
    if hosts:
        lines.append("  " + _("hosts: {hosts}").format(
            hosts=", ".join(f"{name} ({address})" if name != address else name for name, address in hosts)))
    for conn in ladder.connections:
        what = conn.service
        if conn.data_of is not None:
            what = _("FTP data connection of #{control}, {mode} mode").format(
                control=conn.data_of, mode=_("active") if conn.mode == "active" else _("passive"))
        state = []
        if not conn.opened:
            state.append(_("started before the capture"))
        if conn.closed:
            state.append(_("closed with {how}").format(how=conn.closed))
        if conn.retransmissions:
            state.append(_("{count} retransmissions").format(count=conn.retransmissions))
        lines.append("  #{n:<3} TCP {c} → {s}  {what}: {packets}, {payload}{state}".format(
            n=conn.number, c=f"{ladder.name(conn.client[0])}:{conn.client[1]}",
            s=f"{ladder.name(conn.server[0])}:{conn.server[1]}", what=what,
            packets=ngettext("{count} packet", "{count} packets", conn.packets).format(count=conn.packets),
            payload=_("{size} bytes of data").format(size=f"{conn.payload:,}"),
            state=("; " + ", ".join(state)) if state else ""))
    for (src, sport, dst, dport), (count, size) in ladder.udp_flows.items():
        lines.append("       UDP {c} → {s}  {what}: {packets}, {payload}".format(
            c=f"{ladder.name(src)}:{sport}", s=f"{ladder.name(dst)}:{dport}",
            what=SERVICES.get(dport, SERVICES.get(sport, "UDP")),
            packets=ngettext("{count} datagram", "{count} datagrams", count).format(count=count),
            payload=_("{size} bytes of data").format(size=f"{size:,}")))
    return "\n".join(lines)


# --------------------------------------------------------------------------- text

def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def render_text(ladder: Ladder, *, ascii_only: bool = False, max_lines: int = 4, max_arrows: int = 2000) -> str:
    """The ladder for a terminal: one column per host, a row per arrow, its label on the right."""
    hosts = ladder.hosts
    if not hosts:
        return _("(no packets: nothing to draw)")
    bar, line, dline, dots, right, left = ("|", "-", "=", ".", ">", "<") if ascii_only else \
        ("│", "─", "═", "┄", "►", "◄")
    cross = {"-": "+", "=": "+", ".": "+", "─": "┼", "═": "╪", "┄": "┼"}
    colw = max(14, max(_width(h) for h in hosts) + 4)
    x = {h: i * colw + colw // 2 for i, h in enumerate(hosts)}
    span = x[hosts[-1]] + 3         # room for a loop (an arrow to itself) right of the last column
    gutter = f"{'':>9} {'':>5} "

    def lifelines() -> list[str]:
        row = [" "] * span
        for h in hosts:
            row[x[h]] = bar
        return row

    head = [" "] * span
    for h in hosts:
        start = max(0, x[h] - _width(h) // 2)
        head[start:start + len(h)] = list(h)
    # each row: the time, the connection (#n, as in the summary), the columns, the label
    time_title, conn_title = _("time (s)"), _("conn")
    titles = " " * max(0, 9 - _width(time_title)) + time_title + " " + " " * max(0, 5 - _width(conn_title)) + conn_title
    out = [titles + " " * max(1, len(gutter) - _width(titles)) + "".join(head).rstrip(),
           gutter + "".join(lifelines()).rstrip()]
    for arrow in ladder.arrows[:max_arrows]:
        row = lifelines()
        a, b = x[ladder.name(arrow.src)], x[ladder.name(arrow.dst)]
        fill = dline if arrow.data_connection else dots if arrow.kind in ("udp", "icmp") else line
        if a == b:
            row[a + 1:a + 3] = [fill, "↺" if not ascii_only else "@"]
        else:
            lo, hi = min(a, b), max(a, b)
            for i in range(lo + 1, hi):
                row[i] = fill if row[i] == " " else cross[fill]        # passing another host's line
            if b > a:
                row[hi - 1] = right
            else:
                row[lo + 1] = left
        label = arrow.lines(max_lines)
        tag = f"#{arrow.conn}" if arrow.conn is not None else ""
        out.append(f"{arrow.time:9.3f} {tag:>5} " + "".join(row).rstrip() + "  " + label[0])
        for more in label[1:]:
            out.append(gutter + "".join(lifelines()).rstrip() + "  " + more)
    if len(ladder.arrows) > max_arrows:
        out.append(gutter + _("... {count} more arrows not shown").format(count=len(ladder.arrows) - max_arrows))
    return "\n".join(out)


# --------------------------------------------------------------------------- picture

COLORS = {"handshake": "#555555", "close": "#8a8a8a", "reset": "#c62828", "ack": "#9e9e9e",
          "text": "#1f4e99", "bytes": "#1f4e99", "tls": "#2e7d32", "udp": "#6a1b9a", "icmp": "#c62828",
          "data": "#d35400"}
FONT = "DejaVu Sans Mono, WenQuanYi Micro Hei Mono, WenQuanYi Micro Hei, monospace"
CHAR_W, LINE_H = 7.2, 15        # font-size 12 monospace: width of a character, height of a line


def render_svg(ladder: Ladder, title: str, *, max_lines: int = 3, max_arrows: int = 600) -> str:
    """The ladder as an SVG picture (self-contained: fonts by name, no external files)."""
    hosts = ladder.hosts or ["-"]
    arrows = ladder.arrows[:max_arrows]
    left, colw, top = 130, 250, 92
    x = {h: left + colw // 2 + i * colw for i, h in enumerate(hosts)}
    rows, y = [], top + 20
    widest = left + colw * len(hosts)
    for arrow in arrows:
        label = [_clip(line, 110) for line in arrow.lines(max_lines)]
        y += LINE_H * len(label) + 12
        rows.append((arrow, label, y))
        lo = min(x.get(ladder.name(arrow.src), left), x.get(ladder.name(arrow.dst), left))
        widest = max(widest, lo + 10 + max(_width(line) for line in label) * CHAR_W + 20)
    width = int(widest + 20)
    bottom = y + 30
    height = bottom + 70
    e = html.escape
    subtitle = _("{packets} packets, {seconds:.3f} s; time goes down").format(
        packets=len(ladder.capture.packets), seconds=ladder.duration)
    time_title = _("time (s)")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="16" y="24" font-size="14" font-weight="bold">{e(title)}</text>',
           f'<text x="16" y="44" fill="#555">{e(subtitle)}</text>',
           f'<text x="16" y="{top - 10}" fill="#555">{e(time_title)}</text>']
    for h in hosts:
        w = max(_width(h) * CHAR_W + 20, 70)
        out.append(f'<rect x="{x[h] - w / 2:.1f}" y="{top - 28}" width="{w:.1f}" height="24" rx="4" '
                   f'fill="#eef3fb" stroke="#1f4e99"/>')
        out.append(f'<text x="{x[h]}" y="{top - 11}" text-anchor="middle" font-weight="bold">{e(h)}</text>')
        out.append(f'<line x1="{x[h]}" y1="{top - 4}" x2="{x[h]}" y2="{bottom}" stroke="#b0b0b0" '
                   f'stroke-dasharray="4 3"/>')
    for arrow, label, y in rows:
        a, b = x[ladder.name(arrow.src)], x[ladder.name(arrow.dst)]
        color = COLORS["data"] if arrow.data_connection else COLORS.get(arrow.kind, "#000")
        dash = ' stroke-dasharray="6 4"' if arrow.kind in ("udp", "icmp") else ""
        thick = 2.5 if arrow.data_connection or arrow.kind == "bytes" else 1.5
        tag = f"  #{arrow.conn}" if arrow.conn is not None else ""
        out.append(f'<text x="16" y="{y + 4}" fill="#555">{arrow.time:.3f}{e(tag)}</text>')
        if a == b:
            out.append(f'<path d="M{a} {y - 8} h40 v12 h-34" fill="none" stroke="{color}" stroke-width="{thick}"{dash}/>')
            out.append(f'<polygon points="{a},{y + 4} {a + 8},{y} {a + 8},{y + 8}" fill="{color}"/>')
            tx = a + 48
            ty = y - LINE_H * (len(label) - 1)
        else:
            sign = 1 if b > a else -1
            tip = b - sign * 1
            out.append(f'<line x1="{a}" y1="{y}" x2="{tip - sign * 9}" y2="{y}" stroke="{color}" '
                       f'stroke-width="{thick}"{dash}/>')
            out.append(f'<polygon points="{tip},{y} {tip - sign * 10},{y - 4.5} {tip - sign * 10},{y + 4.5}" '
                       f'fill="{color}"/>')
            tx = min(a, b) + 10
            ty = y - 5 - LINE_H * (len(label) - 1)
        for i, line in enumerate(label):
            weight = ' font-weight="bold"' if i == 0 and arrow.kind in ("handshake", "close", "reset") else ""
            out.append(f'<text x="{tx}" y="{ty + i * LINE_H}" fill="{color if i == 0 else "#333"}"{weight} '
                       f'stroke="white" stroke-width="3" paint-order="stroke" xml:space="preserve">{e(line)}</text>')
    if len(ladder.arrows) > max_arrows:
        more = _("... {count} more arrows: see the text form").format(count=len(ladder.arrows) - max_arrows)
        out.append(f'<text x="{left}" y="{bottom - 6}" fill="#c62828">{e(more)}</text>')
    legend = [(COLORS["handshake"], "", _("TCP handshake, FIN, ACK")), (COLORS["text"], "", _("protocol lines")),
              (COLORS["data"], "", _("FTP data connection")), (COLORS["tls"], "", _("TLS records (encrypted)")),
              (COLORS["udp"], "6 4", _("UDP datagram")), (COLORS["reset"], "", _("RST, ICMP error"))]
    lx, ly = 16, bottom + 30
    for color, dash, text in legend:
        out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 30}" y2="{ly}" stroke="{color}" stroke-width="2.5"'
                   + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        out.append(f'<text x="{lx + 36}" y="{ly + 4}">{e(text)}</text>')
        lx += 36 + _width(text) * CHAR_W + 24
        if lx > width - 200:
            lx, ly = 16, ly + 20
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def write_png(svg: Path, png: Path) -> str | None:
    """Render *svg* to *png* with rsvg-convert; None when it worked, else why not."""
    tool = shutil.which("rsvg-convert")
    if tool is None:
        return _("rsvg-convert is not installed (Debian: librsvg2-bin), so there is no PNG")
    res = subprocess.run([tool, "--format", "png", "--output", str(png), str(svg)], capture_output=True, text=True)
    if res.returncode != 0:
        return _("rsvg-convert failed: {reason}").format(reason=res.stderr.strip()[-300:])
    return None


# --------------------------------------------------------------------------- command

def show(path: str | Path, *, names: dict[str, str], picture: bool = True, acks: bool = False,
         ascii_only: bool = False, max_lines: int = 4, out=None) -> Ladder:
    """Print the summary and the ladder of *path*; write the picture beside it."""
    out = out or sys.stdout
    path = Path(path)
    ladder = build_ladder(read_capture(path), names, acks=acks)
    print(summary(ladder, path), file=out)
    print(file=out)
    print(render_text(ladder, ascii_only=ascii_only, max_lines=max_lines), file=out)
    if picture and ladder.arrows:
        svg, png = path.with_suffix(".svg"), path.with_suffix(".png")
        try:
            svg.write_text(render_svg(ladder, path.name), encoding="utf-8")
        except OSError as exc:
            print(_("cannot write the picture: {reason}").format(reason=exc), file=out)
            return ladder
        problem = write_png(svg, png)
        print(file=out)
        if problem:
            print(_("picture: {svg} ({problem})").format(svg=svg, problem=problem), file=out)
        else:
            print(_("picture: {svg} and {png}").format(svg=svg, png=png), file=out)
    out.flush()
    return ladder


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="lab-ladder",
        description=_("Draw a capture (pcap) as a ladder diagram: one column per lab host, time going "
                      "down, an arrow per packet that matters (handshake, protocol lines, data, TLS "
                      "records, FIN, RST, UDP). Writes the picture beside the file: FILE.svg and FILE.png."))
    p.add_argument("pcap", metavar="FILE.pcap", help=_("the capture (from lab-capture, make capture or tcpdump -w)"))
    p.add_argument("--hosts", metavar="NAMES",
                   help=_("lab host names to show instead of addresses, comma-separated (default: the lab's hosts)"))
    p.add_argument("--no-picture", action="store_true", help=_("only the text form, no SVG or PNG"))
    p.add_argument("--acks", action="store_true", help=_("show every pure ACK too (normally only the handshake's "
                                                          "and the ones that answer a FIN)"))
    p.add_argument("--lines", type=int, default=4, metavar="N",
                   help=_("show up to N lines of a multi-line message (default: 4)"))
    p.add_argument("--ascii", action="store_true", help=_("draw with ASCII characters only"))
    p.add_argument("--lang", choices=["zh", "en"], help=_("language of the messages (default: from the locale)"))
    args = p.parse_args(argv)
    set_language(args.lang)
    hosts = [h for h in (args.hosts.split(",") if args.hosts else LAB_HOSTS) if h]
    try:
        show(args.pcap, names=lab_names(hosts), picture=not args.no_picture, acks=args.acks,
             ascii_only=args.ascii, max_lines=args.lines)
    except LadderError as exc:
        print(f"lab-ladder: {exc}", file=sys.stderr)
        return 1
    except ImportError:
        print("lab-ladder: " + _("the dpkt library is missing (Debian: python3-dpkt; pip: dpkt)"), file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 141
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
