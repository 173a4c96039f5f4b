"""Checks of the socket exercises (chapter part 1): timestamp servers and clients.

Every reply of the chapter's timestamp servers is ``[ctime] data``: the time as
``time.ctime()`` writes it, in brackets, a space, and the message byte for byte.
"""

from __future__ import annotations

import re
import selectors
import socket
import struct
import threading
import time

from socklab.i18n import N_, _
from socklab.check.framework import (STUDENT_SERVER, CheckFailed, ClientTask, ServerTask, check, finished,
                                     no_traceback, sentence, shorten, token)

STAMP = re.compile(rb"^\[(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4})\] ")
STAMP_LEN = len("[Thu Sep  1 15:35:45 2016] ")


def stamped(reply: bytes, message: bytes) -> str | None:
    """None if *reply* is ``[ctime] message`` with a time close to now, else what is wrong."""
    m = STAMP.match(reply)
    if not m:
        return _("no [ctime] at the start")
    try:
        when = time.mktime(time.strptime(m.group(1).decode(), "%a %b %d %H:%M:%S %Y"))
    except ValueError:
        return _("{stamp} is not a time").format(stamp=m.group(1).decode())
    if abs(when - time.time()) > 300:
        return _("the time {stamp} is not now").format(stamp=m.group(1).decode())
    if reply[m.end():].rstrip(b"\r\n") != message:
        return _("the message does not come back byte for byte")
    return None


def receive(sock: socket.socket, length: int, timeout: float = 3.0) -> bytes:
    """Read until *length* bytes came (replies may arrive in pieces), the peer closes, or *timeout*."""
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < length:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    # a newline after the reply is allowed: take it if it is on its way
    if data and not data.endswith(b"\n"):
        sock.settimeout(0.05)
        try:
            data += sock.recv(2)
        except OSError:
            pass
    return data


def round_trip(sock: socket.socket, text: str, where: str) -> None:
    """Send *text*, expect ``[ctime] text`` back; raise CheckFailed saying what came instead."""
    message = text.encode("utf-8")
    try:
        sock.sendall(message)
    except OSError as exc:
        raise CheckFailed(_("{where} to take the message {message!r}").format(where=where, message=text),
                          _("sending failed: {error}").format(error=exc.strerror or exc))
    reply = receive(sock, STAMP_LEN + len(message))
    if not reply:
        raise CheckFailed(_("the reply [ctime] {message}").format(message=text),
                          _("no reply: the connection was closed or nothing came in 3 s"))
    wrong = stamped(reply, message)
    if wrong:
        raise CheckFailed(_("the reply [ctime] {message}").format(message=text),
                          f"{shorten(repr(reply), 200)} ({wrong})")


def connect(host: str = STUDENT_SERVER, port: int = 8888, timeout: float = 5.0) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise CheckFailed(_("a connection to {host}:{port}").format(host=host, port=port),
                          _("connecting failed: {error}").format(error=exc.strerror or exc))


def reset(sock: socket.socket) -> None:
    """Close with a reset (RST) instead of a FIN: the client vanished."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class TcpServer(ServerTask):
    name = "01-tcp-server"
    program = "server.py"
    section = "1.3.3"
    title = N_("the TCP timestamp server")
    where = N_("your server")

    @check(N_("several messages on one connection, each answered [ctime] data"),
           hint=N_("recv() returns bytes and send() takes bytes: build the reply as bytes "
                   "(b'[%s] ' % ctime().encode() + data), and keep receiving until the client closes."))
    def several_messages(self, ctx) -> None:
        with connect() as sock:
            for _n in range(3):
                round_trip(sock, sentence(), _(self.where))

    @check(N_("Chinese text comes back byte for byte"),
           hint=N_("Echo the bytes you received; decoding and encoding again is only safe with UTF-8."))
    def utf8_message(self, ctx) -> None:
        with connect() as sock:
            round_trip(sock, f"网络编程 {token(6)} 套接字", _(self.where))

    @check(N_("a second client is served after the first leaves"),
           hint=N_("accept() belongs in an endless loop: after one client closes, wait for the next."))
    def second_client(self, ctx) -> None:
        with connect() as first:
            round_trip(first, sentence(), _(self.where))
        for _n in range(2):
            with connect() as later:
                round_trip(later, sentence(), _(self.where))

    @check(N_("a client that vanishes mid-message does not stop the server"),
           hint=N_("recv() raises ConnectionResetError when a client vanishes: catch it (OSError), close "
                   "that client's socket and go back to accept()."))
    def client_vanishes(self, ctx) -> None:
        sock = connect()
        sock.sendall(token(20).encode())
        reset(sock)
        silent = connect()          # one that connects and leaves without a word
        silent.close()
        with connect() as sock:
            round_trip(sock, sentence(), _(self.where))


# =========================================================================== exercises 02-07
# Helpers shared by the client exercises: what a client printed, and peers the checker runs
# itself (in a thread, on this host) to show a client a server that answers in pieces, loses
# datagrams or wants one line per connection.

REPLY_LINE = re.compile(r"\[(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4})\] (.*)$")


def now_stamp(data: bytes) -> bytes:
    """``[ctime] data``, as the lab's timestamp servers answer."""
    return b"[" + time.ctime().encode("ascii") + b"] " + data


def printed_replies(text: str) -> list[tuple[str, str]]:
    """Every ``[ctime] message`` printed in *text* (one per line, a prompt before it allowed)."""
    found = []
    for line in text.splitlines():
        m = REPLY_LINE.search(line)
        if m:
            found.append((m.group(1), m.group(2).rstrip()))
    return found


def words(text: str) -> list[str]:
    """The lines of *text* that say something (not blank, not only a prompt such as ``> ``)."""
    return [line for line in text.splitlines() if re.sub(r"^[\s>:$#]*", "", line)]


def expect_printed(run, messages: list[str], absent: list[str] = ()) -> None:
    """The program printed one ``[ctime] message`` line per message, in order, and none of *absent*."""
    no_traceback(run)
    got = printed_replies(run.stdout)
    expected = _("one line [ctime] message for each message, in order: {messages}").format(
        messages=" | ".join(messages))
    if [msg for _stamp, msg in got] != messages:
        if any(line.lstrip("> ").startswith(("b'", 'b"')) for line in run.stdout.splitlines()):
            seen = _("the replies printed as bytes (b'...'): decode() them before printing")
        elif not got:
            seen = _("no line with a [ctime] reply in what it printed")
        else:
            seen = _("the replies printed: {got}").format(got=shorten(" | ".join(msg for _s, msg in got), 300))
            missing = [m for m in messages if m not in [msg for _s, msg in got]]
            if missing:
                seen += " " + _("(missing or cut: {missing})").format(missing=shorten(" | ".join(missing), 200))
        raise CheckFailed(expected, seen, run.output)
    for stamp, _msg in got:
        try:
            when = time.mktime(time.strptime(stamp, "%a %b %d %H:%M:%S %Y"))
        except ValueError:
            raise CheckFailed(expected, _("{stamp} is not a time").format(stamp=stamp), run.output) from None
        if abs(when - time.time()) > 300:
            raise CheckFailed(expected, _("the time {stamp} is not now").format(stamp=stamp), run.output)
    for line in absent:
        if line in run.stdout:
            raise CheckFailed(_("nothing sent after the blank line"),
                              _("the line after the blank line, {line!r}, was answered too").format(line=line),
                              run.output)


def closed_port() -> int:
    """A TCP port of this host where nobody listens (bound a moment ago, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expect_one_line_error(run, timeout: float) -> None:
    """A failure (refused connection, missing socket file) reported in one line, no traceback."""
    finished(run, timeout)
    no_traceback(run)
    said = words(run.output)
    if not said:
        raise CheckFailed(_("one line saying that the server cannot be reached"),
                          _("nothing printed (exit status {code})").format(code=run.returncode), run.output)
    if len(said) > 2:
        raise CheckFailed(_("one line saying that the server cannot be reached"),
                          _("{n} lines").format(n=len(said)), run.output)


class StreamPeer:
    """A timestamp server of the checker's own, in a thread (TCP on 127.0.0.1, or AF_UNIX at *path*).

    ``mode="stream"``: like tcp-server, every chunk received is a message, answered on the
    same connection until the client closes.  ``mode="line"``: like ss-server, one line per
    connection, answered, then the connection is closed.  With ``pieces=True`` every reply
    is sent in two TCP segments, 0.3 s apart.  It records what it received, per connection.
    """

    def __init__(self, mode: str = "stream", pieces: bool = False, path: str | None = None) -> None:
        self.mode = mode
        self.pieces = pieces
        self.path = path
        if path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(path)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.received: list[list[bytes]] = []      # per connection, the messages (lines) received
        self.unfinished: list[bytes] = []          # line mode: what came without a line end
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return "127.0.0.1:%d" % self.sock.getsockname()[1]

    @property
    def connections(self) -> int:
        return len(self.received)

    def __enter__(self) -> "StreamPeer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            record: list[bytes] = []
            self.received.append(record)
            with conn:
                conn.settimeout(0.5)
                if not self.path:
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                try:
                    if self.mode == "line":
                        self._one_line(conn, record)
                    else:
                        self._stream(conn, record)
                except OSError:
                    pass

    def _reply(self, conn: socket.socket, reply: bytes) -> None:
        if not self.pieces:
            conn.sendall(reply)
            return
        cut = STAMP_LEN + max(1, (len(reply) - STAMP_LEN) // 2)
        conn.sendall(reply[:cut])
        time.sleep(0.3)
        conn.sendall(reply[cut:])

    def _stream(self, conn: socket.socket, record: list[bytes]) -> None:
        while not self._stop.is_set():
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            if not data:
                return
            record.append(data)
            self._reply(conn, now_stamp(data))

    def _one_line(self, conn: socket.socket, record: list[bytes]) -> None:
        data = b""
        deadline = time.monotonic() + 3.0
        while b"\n" not in data and len(data) < 4096 and time.monotonic() < deadline and not self._stop.is_set():
            try:
                chunk = conn.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                break
            data += chunk
        if b"\n" not in data:
            if data:
                self.unfinished.append(data)
            return
        line = data.split(b"\n", 1)[0] + b"\n"
        record.append(line)
        self._reply(conn, now_stamp(line.rstrip(b"\r\n") + b"\r\n"))


class DatagramPeer:
    """A UDP timestamp server of the checker's own (127.0.0.1), that never answers the *lose* messages."""

    def __init__(self, lose: set[str]) -> None:
        self.lose = {m.encode("utf-8") for m in lose}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return "127.0.0.1:%d" % self.sock.getsockname()[1]

    def __enter__(self) -> "DatagramPeer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                continue
            self.received.append(data)
            if data.rstrip(b"\r\n") in self.lose:
                continue
            try:
                self.sock.sendto(now_stamp(data), addr)
            except OSError:
                pass


class LineClient(ClientTask):
    """A client that sends every stdin line to a lab timestamp server and prints each reply.

    Not an exercise itself (no name): the checks every such exercise shares.
    """

    timeout = 15.0

    def talk(self, ctx, lines: list[str], blank: bool = True, after: list[str] = (), timeout: float | None = None,
             **kwargs):
        stdin = "".join(line + "\n" for line in lines)
        if blank:
            stdin += "\n" + "".join(line + "\n" for line in after)
        return ctx.run_client(stdin=stdin, timeout=timeout or self.timeout, **kwargs)

    @check(N_("each line typed is answered: one [ctime] line printed per line; a blank line ends"),
           hint=N_("Loop: input() a line, stop at an empty line, send it encoded (bytes), receive the reply "
                   "and print it decoded (reply.decode()), one line per reply."))
    def replies_printed(self, ctx) -> None:
        lines = [sentence(), f"网络编程 {token(6)} 套接字", sentence()]
        after = [sentence()]
        run = self.talk(ctx, lines, after=after)
        finished(run, self.timeout)
        expect_printed(run, lines, absent=after)

    @check(N_("the end of the input ends the program, like a blank line"),
           hint=N_("input() raises EOFError when the input ends (Ctrl-D, or a file fed to the program): "
                   "catch it and end as for an empty line."))
    def end_of_input(self, ctx) -> None:
        lines = [sentence(), sentence()]
        run = self.talk(ctx, lines, blank=False)
        finished(run, self.timeout)
        expect_printed(run, lines)


class TcpClient(LineClient):
    name = "02-tcp-client"
    program = "client.py"
    section = "1.3.4"
    title = N_("the TCP timestamp client")

    @check(N_("a refused connection is reported in one line, without a traceback"),
           hint=N_("connect() raises ConnectionRefusedError (an OSError) when nobody listens: catch OSError "
                   "and print one line saying so."))
    def refused(self, ctx) -> None:
        run = self.talk(ctx, [sentence()], redirect={"tcp-server:8888": "127.0.0.1:%d" % closed_port()})
        expect_one_line_error(run, self.timeout)

    @check(N_("a reply that arrives in two pieces is still printed whole"),
           hint=N_("TCP is a stream of bytes: one recv() may return only part of a reply. The reply to data "
                   "is [ctime] data, 27 + len(data) bytes: keep calling recv() until you have all of it."))
    def reply_in_pieces(self, ctx) -> None:
        lines = [sentence(), sentence(), sentence()]
        with StreamPeer(pieces=True) as peer:
            run = self.talk(ctx, lines, redirect={"tcp-server:8888": peer.address})
        finished(run, self.timeout)
        expect_printed(run, lines)


class UdpServer(ServerTask):
    name = "03-udp-server"
    program = "server.py"
    section = "1.3.5"
    title = N_("the UDP timestamp server")
    proto = "udp"

    def exchange(self, messages: list[str], timeout: float = 3.0) -> None:
        """Send each message from a socket of its own (its own port) at once; each must get its own reply."""
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _m in messages]
        got: dict[int, list[bytes]] = {i: [] for i in range(len(socks))}
        try:
            for sock, message in zip(socks, messages):
                sock.sendto(message.encode("utf-8"), (STUDENT_SERVER, self.port))
            with selectors.DefaultSelector() as sel:
                for i, sock in enumerate(socks):
                    sock.setblocking(False)
                    sel.register(sock, selectors.EVENT_READ, i)
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    if all(got.values()):          # every socket has an answer: wait a little for strays
                        deadline = min(deadline, time.monotonic() + 0.2)
                    for key, _ev in sel.select(max(0.0, deadline - time.monotonic())):
                        try:
                            got[key.data].append(key.fileobj.recv(65536))
                        except OSError:
                            pass
        except OSError as exc:
            raise CheckFailed(_("datagrams to {host}:{port}").format(host=STUDENT_SERVER, port=self.port),
                              _("sending failed: {error}").format(error=exc.strerror or exc))
        finally:
            ports = [s.getsockname()[1] if s.fileno() >= 0 else 0 for s in socks]
            for sock in socks:
                sock.close()
        for i, message in enumerate(messages):
            expected = _("the reply [ctime] {message} sent back to the client (port {port}) that sent it").format(
                message=message, port=ports[i])
            data = message.encode("utf-8")
            if not got[i]:
                elsewhere = [j for j in got if j != i and any(r.rstrip(b"\r\n").endswith(data) for r in got[j])]
                if elsewhere:
                    raise CheckFailed(expected, _("its reply went to another client (port {port}): reply with "
                                                  "sendto() to the address recvfrom() gave with this datagram").format(
                                                      port=ports[elsewhere[0]]))
                raise CheckFailed(expected, _("no reply in {s:g} s").format(s=timeout))
            wrong = stamped(got[i][0], data)
            if wrong:
                raise CheckFailed(expected, f"{shorten(repr(got[i][0]), 200)} ({wrong})")
            if len(got[i]) > 1:
                raise CheckFailed(expected, _("{n} datagrams came back, among them {extra}").format(
                    n=len(got[i]), extra=shorten(repr(got[i][1]), 200)))

    @check(N_("clients on different ports, interleaved: each gets the reply to its own datagram"),
           hint=N_("recvfrom() returns the data and the sender's address; answer each datagram with "
                   "sendto([ctime] data as bytes, that address), inside the endless loop."))
    def each_sender_answered(self, ctx) -> None:
        self.exchange([sentence(), sentence(), sentence()])
        self.exchange([sentence(), sentence()])
        self.exchange([sentence()])

    @check(N_("Chinese text comes back byte for byte"),
           hint=N_("Send back the bytes you received after the stamp: b'[%s] %s' % (ctime().encode(), data); "
                   "'%s' % data would put b'...' into the reply."))
    def utf8_message(self, ctx) -> None:
        self.exchange([f"网络编程 {token(6)} 数据报"])

    @check(N_("an empty datagram does not stop the server"),
           hint=N_("An empty datagram is a datagram like any other: with UDP there is no connection to close, "
                   "so 'if not data: break' ends the server for every client. Leave it out."))
    def empty_datagram(self, ctx) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"", (STUDENT_SERVER, self.port))
        time.sleep(0.3)
        self.exchange([sentence(), sentence()])


class UdpClient(LineClient):
    name = "04-udp-client"
    program = "client.py"
    section = "1.3.6"
    title = N_("the UDP timestamp client, with a timeout")
    timeout = 20.0

    @check(N_("lost datagrams are reported and the client goes on with the next line"),
           hint=N_("UDP may lose a datagram or its reply: settimeout() on the socket, catch socket.timeout "
                   "around recvfrom(), print one line saying the reply was lost, and go on."))
    def lost_datagrams(self, ctx) -> None:
        lines = [sentence() for _n in range(5)]
        lost = [lines[1], lines[3]]
        with DatagramPeer(set(lost)) as peer:
            run = self.talk(ctx, lines, redirect={"udp-server:8888": peer.address})
        if run.timed_out:
            raise CheckFailed(_("your program to give up waiting for a lost reply and go on"),
                              _("still waiting after {s:g} s: recvfrom() without a timeout waits for ever").format(
                                  s=self.timeout), run.output)
        no_traceback(run)
        sent = {d.decode("utf-8", "replace").rstrip("\r\n") for d in peer.received}
        not_sent = [line for line in lines if line not in sent]
        if not_sent:
            raise CheckFailed(_("every line sent, also after a lost reply"),
                              _("never sent: {lines}").format(lines=" | ".join(not_sent)), run.output)
        expect_printed(run, [line for line in lines if line not in lost])
        said = [line for line in words(run.output) if not REPLY_LINE.search(line)]
        if len(said) < len(lost):
            raise CheckFailed(_("a line saying so for each of the {n} lost replies").format(n=len(lost)),
                              _("{n} such lines").format(n=len(said)), run.output)


class SocketServerServer(ServerTask):
    name = "05-ss-server"
    program = "server.py"
    section = "1.4"
    title = N_("the socketserver timestamp server")

    def ask(self, text: str, pieces: bool = False, timeout: float = 3.0) -> None:
        """On a new connection, send one line ``text\\r\\n``; expect ``[ctime] text``."""
        line = text.encode("utf-8") + b"\r\n"
        with connect() as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                if pieces:
                    cut = len(line) // 2
                    sock.sendall(line[:cut])
                    time.sleep(0.3)
                    sock.sendall(line[cut:])
                else:
                    sock.sendall(line)
            except OSError as exc:
                raise CheckFailed(_("your server to take the line {line!r}").format(line=text),
                                  _("sending failed: {error}").format(error=exc.strerror or exc))
            data = b""
            deadline = time.monotonic() + timeout
            whole = STAMP_LEN + len(line) - 2
            while b"\n" not in data:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(left)
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
                if len(data) >= whole:        # all of it, maybe without a line end: a moment more
                    deadline = min(deadline, time.monotonic() + 0.2)
        expected = _("the reply [ctime] {message}").format(message=text)
        if not data:
            raise CheckFailed(expected, _("no reply: the connection was closed or nothing came in {s:g} s").format(
                s=timeout))
        wrong = stamped(data, text.encode("utf-8"))
        if wrong:
            raise CheckFailed(expected, f"{shorten(repr(data), 200)} ({wrong})")

    @check(N_("one line per connection is answered [ctime] line"),
           hint=N_("In the handler (a StreamRequestHandler), read the line with self.rfile.readline() and "
                   "write bytes: self.wfile.write(b'[%s] %s' % (ctime().encode(), line))."))
    def one_line_per_connection(self, ctx) -> None:
        self.ask(sentence())
        self.ask(f"网络编程 {token(6)} 套接字")

    @check(N_("20 connections in a row, each answered"),
           hint=N_("serve_forever() handles one connection after another; the handler must answer and return."))
    def many_connections(self, ctx) -> None:
        for _n in range(20):
            self.ask(token(12))

    @check(N_("a line that arrives in two pieces is one message"),
           hint=N_("One recv() returns whatever has arrived, maybe half a line: let StreamRequestHandler read "
                   "the whole line with self.rfile.readline()."))
    def line_in_pieces(self, ctx) -> None:
        self.ask(sentence(), pieces=True)
        self.ask(sentence(), pieces=True)


class SocketServerClient(LineClient):
    name = "06-ss-client"
    program = "client.py"
    section = "1.4"
    title = N_("the socketserver timestamp client, one connection per line")

    def peer_run(self, ctx, pieces: bool):
        lines = [sentence() for _n in range(3)]
        with StreamPeer(mode="line", pieces=pieces) as peer:
            run = self.talk(ctx, lines, redirect={"ss-server:8888": peer.address})
        finished(run, self.timeout)
        no_traceback(run)
        if peer.unfinished:
            raise CheckFailed(_("each message sent as one line, ending with \\r\\n"),
                              _("a message without a line end: {data}; the server waits for the rest of the "
                                "line").format(data=shorten(repr(peer.unfinished[0]), 100)), run.output)
        return lines, peer, run

    @check(N_("a new connection for every line"),
           hint=N_("The socketserver server answers one line and closes the connection: create the socket and "
                   "connect() inside the loop, once per line, and close it after the reply."))
    def one_connection_per_line(self, ctx) -> None:
        lines, peer, run = self.peer_run(ctx, pieces=False)
        if peer.connections != len(lines) or any(len(r) != 1 for r in peer.received):
            per = ", ".join(str(len(r)) for r in peer.received) or "0"
            raise CheckFailed(_("{n} connections, one line on each").format(n=len(lines)),
                              _("connections made: {c}; lines received on each: {per}").format(
                                  c=peer.connections, per=per), run.output)
        expect_printed(run, lines)

    @check(N_("a reply that arrives in two pieces is still printed whole"),
           hint=N_("One recv() may return only part of the reply: read the whole line "
                   "(sock.makefile('rb').readline()), or recv() until the server closes the connection."))
    def reply_in_pieces(self, ctx) -> None:
        lines, _peer, run = self.peer_run(ctx, pieces=True)
        expect_printed(run, lines)


UNIX_PATH = "/run/socklab/timestamp.sock"

class UnixClient(LineClient):
    name = "07-unix"
    program = "client.py"
    section = "1.2"
    title = N_("the timestamp client over an AF_UNIX socket file")

    def redirected(self, ctx, lines: list[str], target: str):
        """Run the program with its socket file UNIX_PATH leading to *target* instead."""
        return self.talk(ctx, lines, redirect={UNIX_PATH: target})

    @check(N_("a missing socket file is reported in one line, without a traceback"),
           hint=N_("connect() raises FileNotFoundError when the socket file does not exist (the server is not "
                   "running): catch OSError and print one line saying so."))
    def missing_socket_file(self, ctx) -> None:
        run = self.redirected(ctx, [sentence()], str(ctx.scratch / "nobody-here.sock"))
        expect_one_line_error(run, self.timeout)

    @check(N_("a reply that arrives in two pieces is still printed whole"),
           hint=N_("A stream socket, AF_UNIX too, is a stream of bytes: one recv() may return only part of a "
                   "reply. The reply to data is [ctime] data, 27 + len(data) bytes: recv() until you have it all."))
    def reply_in_pieces(self, ctx) -> None:
        lines = [sentence(), sentence(), sentence()]
        path = str(ctx.scratch / "peer.sock")
        with StreamPeer(pieces=True, path=path) as peer:
            run = self.redirected(ctx, lines, path)
        finished(run, self.timeout)
        expect_printed(run, lines)
        if peer.connections != 1:
            raise CheckFailed(_("one connection to the socket file"),
                              _("{n} connections").format(n=peer.connections), run.output)
