"""The ladder diagram (socklab/see/ladder.py) of captures written here, packet by packet, with dpkt.

Each test writes a small pcap of made-up but well-formed packets (Ethernet, IPv4, TCP/UDP
with correct sequence numbers), reads it back through lab-ladder's own code and checks the
arrows: who sends what to whom, in which order, with which label.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import dpkt
import pytest
import yaml

from socklab.see import ladder as L

ROOT = Path(__file__).resolve().parents[2]
CLIENT, FTP, MAIL, UDP = "172.20.0.10", "172.20.0.5", "172.20.0.6", "172.20.0.7"
NAMES = {CLIENT: "client", FTP: "ftp", MAIL: "mail", UDP: "udp-server"}
S, A, F, R, P = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_FIN, dpkt.tcp.TH_RST, dpkt.tcp.TH_PUSH


class Wire:
    """Writes packets into a pcap, keeping each TCP connection's sequence numbers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.f = path.open("wb")
        self.pcap = dpkt.pcap.Writer(self.f, linktype=dpkt.pcap.DLT_EN10MB)
        self.t = 1_700_000_000.0
        self.seq: dict[tuple, int] = {}

    def frame(self, src: str, dst: str, proto: int, seg) -> None:
        ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto, ttl=64, data=seg)
        eth = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
        self.t += 0.001
        self.pcap.writepkt(bytes(eth), ts=self.t)

    def tcp(self, src, sport, dst, dport, flags, data=b"", *, seq=None) -> None:
        mine, theirs = (src, sport, dst, dport), (dst, dport, src, sport)
        self.seq.setdefault(mine, 1000 * (sport % 97 + 1))
        number = self.seq[mine] if seq is None else seq
        ack = self.seq.get(theirs, 0) if flags & A else 0
        self.frame(src, dst, dpkt.ip.IP_PROTO_TCP,
                   dpkt.tcp.TCP(sport=sport, dport=dport, seq=number, ack=ack, flags=flags, win=65535, data=data))
        if seq is None:
            self.seq[mine] = number + len(data) + (1 if flags & (S | F) else 0)

    def connect(self, c, cport, s, sport) -> None:
        self.tcp(c, cport, s, sport, S)
        self.tcp(s, sport, c, cport, S | A)
        self.tcp(c, cport, s, sport, A)

    def close(self, c, cport, s, sport) -> None:
        self.tcp(c, cport, s, sport, F | A)
        self.tcp(s, sport, c, cport, F | A)
        self.tcp(c, cport, s, sport, A)

    def say(self, src, sport, dst, dport, text: str) -> None:
        self.tcp(src, sport, dst, dport, P | A, text.encode())

    def udp(self, src, sport, dst, dport, data: bytes) -> None:
        self.frame(src, dst, dpkt.ip.IP_PROTO_UDP, dpkt.udp.UDP(sport=sport, dport=dport, data=data))

    def done(self) -> Path:
        self.f.close()
        return self.path


def ladder_of(wire: Wire, **kw) -> L.Ladder:
    return L.build_ladder(L.read_capture(wire.done()), NAMES, **kw)


def rows(ladder: L.Ladder) -> list[tuple[str, str, str]]:
    """(from, to, first line of the label) for every arrow."""
    return [(ladder.name(a.src), ladder.name(a.dst), a.lines()[0]) for a in ladder.arrows]


def test_the_handshake_a_dialogue_and_the_close(tmp_path):
    w = Wire(tmp_path / "t.pcap")
    w.connect(CLIENT, 40000, FTP, 21)
    w.say(FTP, 21, CLIENT, 40000, "220 pyftpdlib ready.\r\n")
    w.tcp(CLIENT, 40000, FTP, 21, A)                          # a pure ACK: not drawn
    w.say(CLIENT, 40000, FTP, 21, "USER anonymous\r\n")
    w.say(FTP, 21, CLIENT, 40000, "331 Username ok, send password.\r\n")
    w.close(CLIENT, 40000, FTP, 21)
    ladder = ladder_of(w)
    assert rows(ladder) == [
        ("client", "ftp", "SYN  40000 → 21"), ("ftp", "client", "SYN, ACK"), ("client", "ftp", "ACK"),
        ("ftp", "client", "220 pyftpdlib ready."), ("client", "ftp", "USER anonymous"),
        ("ftp", "client", "331 Username ok, send password."),
        ("client", "ftp", "FIN"), ("ftp", "client", "FIN"), ("client", "ftp", "ACK")]
    assert ladder.hosts == ["client", "ftp"]
    assert [c.service for c in ladder.connections] == ["FTP"]
    assert ladder.connections[0].closed == "FIN"
    text = L.render_text(ladder)
    assert text.splitlines()[0].split()[-2:] == ["client", "ftp"]
    assert "│───" in text and "──►│  SYN  40000 → 21" in text and "│◄──" in text


def test_every_ack_with_acks(tmp_path):
    w = Wire(tmp_path / "t.pcap")
    w.connect(CLIENT, 40000, FTP, 21)
    w.say(FTP, 21, CLIENT, 40000, "220 hi\r\n")
    w.tcp(CLIENT, 40000, FTP, 21, A)
    assert [r[2] for r in rows(ladder_of(w, acks=True))] == ["SYN  40000 → 21", "SYN, ACK", "ACK", "220 hi", "ACK"]


def test_ftp_passive_mode_the_client_opens_the_data_connection(tmp_path):
    w = Wire(tmp_path / "t.pcap")
    w.connect(CLIENT, 40000, FTP, 21)
    w.say(CLIENT, 40000, FTP, 21, "PASV\r\n")
    w.say(FTP, 21, CLIENT, 40000, "227 Entering passive mode (172,20,0,5,78,52).\r\n")   # port 20020
    w.connect(CLIENT, 41000, FTP, 20020)
    w.say(CLIENT, 40000, FTP, 21, "LIST /pub\r\n")
    w.say(FTP, 21, CLIENT, 40000, "150 File status okay. About to open data connection.\r\n")
    for _ in range(3):
        w.say(FTP, 20020, CLIENT, 41000, "-rw-r--r--   1 socklab  socklab  1234 Jan 01 00:00 a.txt\r\n" * 20)
    w.close(FTP, 20020, CLIENT, 41000)
    w.say(FTP, 21, CLIENT, 40000, "226 Transfer complete.\r\n")
    ladder = ladder_of(w)
    got = rows(ladder)
    syn = got.index(("client", "ftp", "SYN  41000 → 20020  (FTP data connection, passive mode: the client connects)"))
    assert got.index(("ftp", "client", "227 Entering passive mode (172,20,0,5,78,52).")) < syn
    data = [a for a in ladder.arrows if a.data_connection and a.kind == "bytes"]
    assert len(data) == 1, "three segments of one direction are one arrow"
    assert data[0].lines() == [f"data connection: {3 * 20 * 58:,} bytes in 3 segments"]
    assert data[0].segments == 3
    # 150 and 226 stay two arrows although nothing else of the control connection is between them
    assert got[-1] == ("ftp", "client", "226 Transfer complete.")
    data_conn = ladder.connections[1]
    assert (data_conn.data_of, data_conn.mode, data_conn.client) == (1, "passive", (CLIENT, 41000))
    assert "═" in L.render_text(ladder)


def test_ftp_active_mode_the_server_opens_the_data_connection(tmp_path):
    w = Wire(tmp_path / "t.pcap")
    w.connect(CLIENT, 40000, FTP, 21)
    w.say(CLIENT, 40000, FTP, 21, "PORT 172,20,0,10,164,16\r\n")       # port 164 * 256 + 16 = 42000
    w.say(FTP, 21, CLIENT, 40000, "200 Active data connection established.\r\n")
    w.say(CLIENT, 40000, FTP, 21, "LIST\r\n")
    w.connect(FTP, 20, CLIENT, 42000)
    ladder = ladder_of(w)
    syns = [(ladder.name(a.src), ladder.name(a.dst), a.head) for a in ladder.arrows if a.head.startswith("SYN ")]
    assert syns[1] == ("ftp", "client", "SYN  20 → 42000  (FTP data connection, active mode: the server connects)")
    assert ladder.connections[1].mode == "active"


def test_eprt_and_epsv_too(tmp_path):
    w = Wire(tmp_path / "t.pcap")
    w.connect(CLIENT, 40000, FTP, 21)
    w.say(CLIENT, 40000, FTP, 21, "EPSV\r\n")
    w.say(FTP, 21, CLIENT, 40000, "229 Entering extended passive mode (|||20031|).\r\n")
    w.connect(CLIENT, 41000, FTP, 20031)
    w.say(CLIENT, 40000, FTP, 21, "EPRT |1|172.20.0.10|42000|\r\n")
    w.connect(FTP, 20, CLIENT, 42000)
    ladder = ladder_of(w)
    assert [(c.data_of, c.mode) for c in ladder.connections] == [(None, None), (1, "passive"), (1, "active")]


def tls_record(kind: int, body: bytes) -> bytes:
    return bytes([kind, 3, 3]) + len(body).to_bytes(2, "big") + body


def handshake(kind: int, body: bytes = b"\x03\x03" + b"\x00" * 40) -> bytes:
    return bytes([kind]) + len(body).to_bytes(3, "big") + body


def test_starttls_shows_records_never_plaintext(tmp_path):
    w = Wire(tmp_path / "t.pcap")
    w.connect(CLIENT, 40000, MAIL, 587)
    w.say(MAIL, 587, CLIENT, 40000, "220 mail ESMTP\r\n")
    w.say(CLIENT, 40000, MAIL, 587, "EHLO client.lab.test\r\n")
    w.say(MAIL, 587, CLIENT, 40000, "250-mail\r\n250-SIZE 10485760\r\n250-STARTTLS\r\n250 HELP\r\n")
    w.say(CLIENT, 40000, MAIL, 587, "STARTTLS\r\n")
    w.say(MAIL, 587, CLIENT, 40000, "220 Ready to start TLS\r\n")
    w.tcp(CLIENT, 40000, MAIL, 587, P | A, tls_record(22, handshake(1)))
    tls13 = handshake(2, b"\x03\x03" + b"\x00" * 40 + b"\x00\x2b\x00\x02\x03\x04")
    w.tcp(MAIL, 587, CLIENT, 40000, P | A, tls_record(22, tls13) + tls_record(20, b"\x01")
          + tls_record(23, b"\x99" * 500) + tls_record(23, b"\x98" * 300))
    secret = b"AUTH PLAIN AGFsaWNlAHBhc3N3b3Jk\r\n"
    w.tcp(CLIENT, 40000, MAIL, 587, P | A, tls_record(23, secret + b"\x00" * 17))
    ladder = ladder_of(w)
    labels = [a.lines() for a in ladder.arrows]
    assert ["250-mail", "250-SIZE 10485760", "250-STARTTLS", "250 HELP"] in labels
    first = [line[0] for line in labels]
    i = first.index("220 Ready to start TLS")
    assert first[i + 1:] == ["TLS ClientHello", "TLS ServerHello, ChangeCipherSpec, application data, 800 bytes",
                             f"TLS application data, {len(secret) + 17} bytes"]
    assert "AUTH" not in L.render_text(ladder) and "AUTH" not in L.render_svg(ladder, "t")


def test_a_tls_record_split_over_segments_is_counted_once(tmp_path):
    w = Wire(tmp_path / "t.pcap")
    w.connect(CLIENT, 40000, MAIL, 993)
    record = tls_record(23, b"\x55" * 3000)
    for start in range(0, len(record), 1000):
        w.tcp(MAIL, 993, CLIENT, 40000, A, record[start:start + 1000])
    w.tcp(CLIENT, 40000, MAIL, 993, P | A, tls_record(21, b"\x01\x00"))
    ladder = ladder_of(w)
    assert [a.lines()[0] for a in ladder.arrows[3:]] == ["TLS application data, 3,000 bytes", "TLS Alert"]
    assert ladder.arrows[3].segments == 4


def test_a_retransmission_is_not_data_twice(tmp_path):
    w = Wire(tmp_path / "t.pcap")
    w.connect(CLIENT, 40000, FTP, 21)
    start = w.seq[(CLIENT, 40000, FTP, 21)]
    w.say(CLIENT, 40000, FTP, 21, "NOOP\r\n")
    w.tcp(CLIENT, 40000, FTP, 21, P | A, b"NOOP\r\n", seq=start)          # the same bytes again
    w.say(FTP, 21, CLIENT, 40000, "200 I successfully done nothin'.\r\n")
    ladder = ladder_of(w)
    assert [r[2] for r in rows(ladder)][3:] == ["NOOP", "200 I successfully done nothin'."]
    assert ladder.connections[0].retransmissions == 1


def test_bulk_text_becomes_one_arrow_with_its_size(tmp_path):
    w = Wire(tmp_path / "t.pcap")
    w.connect(CLIENT, 40000, MAIL, 25)
    w.say(CLIENT, 40000, MAIL, 25, "DATA\r\n")
    w.say(MAIL, 25, CLIENT, 40000, "354 End data with <CR><LF>.<CR><LF>\r\n")
    body = "".join(f"line {n} of the message, long enough to fill segments\r\n" for n in range(200))
    for start in range(0, len(body), 1400):
        w.say(CLIENT, 40000, MAIL, 25, body[start:start + 1400])
    w.say(CLIENT, 40000, MAIL, 25, ".\r\n")
    w.say(MAIL, 25, CLIENT, 40000, "250 OK\r\n")
    ladder = ladder_of(w)
    message = ladder.arrows[5]
    assert message.lines(2) == ["line 0 of the message, long enough to fill segments",
                                "line 1 of the message, long enough to fill segments",
                                f"... (+199 more lines, {len(body) + 3:,} bytes in all)"]
    assert [a.lines()[0] for a in ladder.arrows[6:]] == ["250 OK"]


def test_rst_udp_and_icmp(tmp_path):
    w = Wire(tmp_path / "t.pcap")
    w.tcp(CLIENT, 40000, FTP, 9, S)
    w.tcp(FTP, 9, CLIENT, 40000, R | A)
    w.udp(CLIENT, 50000, UDP, 8888, b"hello")
    w.udp(UDP, 8888, CLIENT, 50000, b"[Thu Sep  1 15:35:45 2016] hello")
    w.udp(CLIENT, 50000, UDP, 9999, b"\x00\x01\x02\x03")
    quoted = dpkt.ip.IP(src=socket.inet_aton(CLIENT), dst=socket.inet_aton(UDP), p=17,
                        data=dpkt.udp.UDP(sport=50000, dport=9999, data=b"\x00\x01\x02\x03"))
    w.frame(UDP, CLIENT, dpkt.ip.IP_PROTO_ICMP,
            dpkt.icmp.ICMP(type=3, code=3, data=dpkt.icmp.ICMP.Unreach(data=quoted)))
    ladder = ladder_of(w)
    assert rows(ladder) == [
        ("client", "ftp", "SYN  40000 → 9"), ("ftp", "client", "RST"),
        ("client", "udp-server", "UDP 50000 → 8888  hello"),
        ("udp-server", "client", "UDP 8888 → 50000  [Thu Sep  1 15:35:45 2016] hello"),
        ("client", "udp-server", "UDP 50000 → 9999  4 bytes"),
        ("udp-server", "client", "ICMP port unreachable  (UDP 50000 → 9999)")]
    assert ladder.connections[0].closed == "RST"
    assert ladder.hosts == ["client", "ftp", "udp-server"]


def test_unknown_addresses_are_shown_as_they_are_and_text_is_made_safe(tmp_path):
    w = Wire(tmp_path / "t.pcap")
    w.connect("10.9.9.9", 40000, FTP, 8888)
    w.say("10.9.9.9", 40000, FTP, 8888, "hi \x1b[2J there 你好\r\n")
    ladder = ladder_of(w)
    assert ladder.hosts == ["10.9.9.9", "ftp"]
    assert ladder.arrows[-1].lines() == ["hi \\x1b[2J there 你好"]


def test_the_picture_is_well_formed_svg(tmp_path):
    w = Wire(tmp_path / "t.pcap")
    w.connect(CLIENT, 40000, FTP, 21)
    w.say(FTP, 21, CLIENT, 40000, "220 <ready> & \"waiting\"\r\n")
    w.udp(CLIENT, 50000, UDP, 8888, "你好".encode())
    svg = L.render_svg(ladder_of(w), "t.pcap")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "220 <ready> & \"waiting\"" in texts and "UDP 50000 → 8888  你好" in texts
    assert {"client", "ftp", "udp-server"} <= set(texts)


def test_show_writes_the_text_and_the_picture(tmp_path, capsys):
    w = Wire(tmp_path / "t.pcap")
    w.connect(CLIENT, 40000, FTP, 21)
    w.done()
    L.show(w.path, names=NAMES, picture=True)
    out = capsys.readouterr().out
    assert "3 packets" in out and "#1   TCP client:40000 → ftp:21  FTP" in out
    assert (tmp_path / "t.svg").exists()
    ET.parse(tmp_path / "t.svg")
    assert ("t.png" in out) == (tmp_path / "t.png").exists()


def test_an_empty_or_cut_capture_is_not_an_error(tmp_path):
    w = Wire(tmp_path / "t.pcap")
    w.connect(CLIENT, 40000, FTP, 21)
    data = w.done().read_bytes()
    (tmp_path / "cut.pcap").write_bytes(data[:-10])
    cut = L.read_capture(tmp_path / "cut.pcap")
    assert cut.truncated and len(cut.packets) == 2
    (tmp_path / "empty.pcap").write_bytes(b"")
    assert L.render_text(L.build_ladder(L.read_capture(tmp_path / "empty.pcap"))) == "(no packets: nothing to draw)"
    (tmp_path / "junk.pcap").write_bytes(b"this is not a capture at all")
    with pytest.raises(L.LadderError):
        L.read_capture(tmp_path / "junk.pcap")


def test_linux_cooked_captures_too(tmp_path):
    path = tmp_path / "any.pcap"
    with path.open("wb") as f:
        pcap = dpkt.pcap.Writer(f, linktype=113)
        ip = dpkt.ip.IP(src=socket.inet_aton(CLIENT), dst=socket.inet_aton(UDP), p=17,
                        data=dpkt.udp.UDP(sport=50000, dport=8888, data=b"hi"))
        sll = dpkt.sll.SLL(type=4, hrd=1, hlen=6, hdr=b"\x02" * 6 + b"\0\0", ethtype=0x0800, data=ip)
        pcap.writepkt(bytes(sll), ts=1.0)
    ladder = L.build_ladder(L.read_capture(path), NAMES)
    assert rows(ladder) == [("client", "udp-server", "UDP 50000 → 8888  hi")]


def test_the_lab_hosts_are_compose_services():
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    assert sorted(L.LAB_HOSTS) == sorted(services), \
        "socklab/see/ladder.py's LAB_HOSTS must name exactly compose.yaml's services"


def test_the_links_own_chatter_is_not_a_host_of_the_ladder():
    from socklab.see.ladder import Packet, _chatter
    assert _chatter(Packet(0.0, "fe80::1", "ff02::2", "icmp", 70))           # a router solicitation
    assert _chatter(Packet(0.0, "fe80::1", "fe80::2", "icmp", 70))           # neighbour discovery
    assert _chatter(Packet(0.0, "172.18.0.2", "224.0.0.251", "udp", 70, 5353, 5353))
    assert not _chatter(Packet(0.0, "172.18.0.2", "172.18.0.3", "tcp", 70, 40000, 21))
