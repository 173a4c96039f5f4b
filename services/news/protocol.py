"""The NNTP conversation with one reader (RFC 3977, plus the RFC 2980 forms nntplib sends).

NNTP is a line protocol, like FTP's control connection and SMTP.  The client sends a
command line, the server answers with a line that starts with a three-digit code, and
some answers go on with a *multi-line data block* that ends with a line holding a
single dot::

    C: GROUP comp.lang.python
    S: 211 34 1 34 comp.lang.python
    C: XHDR Subject 33-34
    S: 221 Subject header follows
    S: 33 Generators explained in one paragraph?
    S: 34 Re: Generators explained in one paragraph?
    S: .

A data line that itself starts with a dot gets a second dot in front ("dot-stuffing"),
in both directions, so that it cannot be mistaken for the end.

The first digit of a code says how it went: 1 information, 2 done, 3 go on (send the
article), 4 could not do it (try something else), 5 will never work (unknown command,
bad syntax).  The codes this server uses:

=====  =========================================  =====  ==================================
 100   help text follows                           382   go ahead with TLS (STARTTLS)
 101   capability list follows                     400   service not available (goodbye)
 111   server date and time                        403   internal fault
 200   service ready, posting allowed              411   no such newsgroup
 201   service ready, posting prohibited           412   no newsgroup selected
 202   slave status noted (RFC 977)                420   current article number invalid
 205   connection closing                          421   no next article
 211   group selected (LISTGROUP: list follows)    422   no previous article
 215   list follows                                423   no article with that number
 220   article follows (221 head, 222 body)        430   no article with that message-id
 223   article exists (STAT, NEXT, LAST)           440   posting not permitted
 224   overview follows                            441   posting failed (and why)
 225   headers follow (HDR; XHDR answers 221)      480   authentication required
 230   new articles follow                         481   authentication failed
 231   new groups follow                           482   AUTHINFO out of sequence
 240   article received OK                         500   unknown command, line too long
 281   authentication accepted                     501   syntax error in the arguments
 340   send the article                            502   not available (IHAVE, 2nd login)
 381   password required                           503   feature not supported
=====  =========================================  =====  ==================================

:class:`NNTPHandler` is a ``socketserver.BaseRequestHandler``: one instance per
connection, one ``do_<COMMAND>`` method per command, like
``http.server.BaseHTTPRequestHandler``.  It keeps the session's state -- the selected
group, the current article number, who has logged in -- and asks the server's
:class:`~socklab.services.news.spool.Spool` for everything stored.
"""

from __future__ import annotations

import re
import socket
import socketserver
import ssl
import time
import uuid
from datetime import datetime, timezone

from socklab.log import shown
from socklab.services.news.article import (OVERVIEW_FMT, Article, ArticleError, check_posting,
                                           format_date, is_message_id)
from socklab.services.news.spool import DuplicateArticle, Group, SpoolError
from socklab.services.news.wildmat import WildmatError, check as check_wildmat

CRLF = b"\r\n"
MAX_COMMAND = 512           # RFC 3977 3.1: a command line is at most 512 octets, CRLF included
_NUMBER = re.compile(r"\d{1,16}")
_RANGE = re.compile(r"(\d{1,16})(-(\d{1,16})?)?")

HELP = """\
Commands (case does not matter; [ ] is optional):
  CAPABILITIES                 what this server can do
  MODE READER                  accepted; this server is always a reader server
  AUTHINFO USER name / AUTHINFO PASS password      log in (optional)
  LIST [ACTIVE|NEWSGROUPS|OVERVIEW.FMT|HEADERS] [wildmat]
  NEWGROUPS yyyymmdd hhmmss [GMT]   groups created since then
  NEWNEWS wildmat yyyymmdd hhmmss [GMT]   message-ids of articles since then
  GROUP name                   select a group: 211 count first last name
  LISTGROUP [name [range]]     select a group and list its article numbers
  ARTICLE|HEAD|BODY|STAT [number|<message-id>]     read an article (or part of it)
  NEXT, LAST                   move to the next / previous article
  OVER|XOVER [range|<message-id>]   overview lines (see LIST OVERVIEW.FMT)
  HDR|XHDR field [range|<message-id>]   one header of many articles
  POST                         send an article, end it with a line holding "."
  DATE                         the server's time (UTC)
  STARTTLS                     encrypt the connection (when the server has a certificate)
  HELP                         this text
  QUIT                         say goodbye
A range is N, N- (N and after) or N-M.  A wildmat is like comp.*,!comp.lang.*"""


class Reply(Exception):
    """Raised inside a command to answer with *code* and *text* and go on with the next one."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


class TooLong(Exception):
    """A line exceeded its limit (its end has already been read and thrown away)."""


class LineReader:
    """Lines from a socket, each of which must arrive complete before a deadline.

    ``sock.makefile().readline()`` with a socket timeout only limits the wait for each
    ``recv``: a client that sends one byte every minute would keep a line open forever.
    Here the timeout is for the whole line, so slow clients are dropped as surely as
    silent ones.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def readline(self, limit: int, timeout: float) -> bytes:
        """Up to *limit* octets, ending with LF unless the line is longer (or input ended).

        :raises TimeoutError: the line was not complete within *timeout* seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            end = self.buffer.find(b"\n", 0, limit)
            if end >= 0 or len(self.buffer) >= limit:
                size = end + 1 if end >= 0 else limit
                line = bytes(self.buffer[:size])
                del self.buffer[:size]
                return line
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("line not complete in time")
            self.sock.settimeout(remaining)
            data = self.sock.recv(65536)
            if not data:                                # end of input
                line = bytes(self.buffer)
                self.buffer.clear()
                return line
            self.buffer += data


class NNTPHandler(socketserver.BaseRequestHandler):
    """One reader's session.  The server (``self.server``) provides:

    ``spool`` (the articles), ``accounts`` (``{user: password}``), ``path_host``,
    ``idle_timeout`` (seconds to send a command line), ``post_timeout`` (seconds to send
    a whole article), ``max_article`` (octets), ``require_auth`` (reading needs a login)
    and ``tls_context`` (an ``ssl.SSLContext`` for STARTTLS, or None).
    """

    # Commands a reader may use before logging in when the server requires it.
    before_auth = {"CAPABILITIES", "AUTHINFO", "HELP", "QUIT", "MODE", "DATE", "STARTTLS"}

    def setup(self) -> None:
        self.connection = self.request
        self.reader = LineReader(self.connection)
        self.timeout = self.server.idle_timeout
        self.log = self.server.log
        self.who = f"{self.client_address[0]}:{self.client_address[1]}" if self.client_address else "client"
        self.group: Group | None = None            # the selected newsgroup
        self.current: int | None = None             # the current article number in it
        self.user: str | None = None                # who has logged in
        self.pending_user: str | None = None        # AUTHINFO USER given, PASS expected
        self.tls = False                            # STARTTLS done

    # ------------------------------------------------------------------ the session

    def handle(self) -> None:
        self.log.info("%s connected", self.who)
        allowed = self.posting_allowed()
        try:
            self.reply(200 if allowed else 201, f"{self.server.path_host} socklab news server ready "
                       f"(posting {'allowed' if allowed else 'prohibited'})")
            while True:
                try:
                    line = self.read_line(MAX_COMMAND, self.timeout)
                except TooLong:
                    self.log.info("%s sent a command line over %d octets", self.who, MAX_COMMAND)
                    self.reply(500, f"Line too long (at most {MAX_COMMAND} octets)")
                    continue
                if line is None:
                    self.log.info("%s closed the connection", self.who)
                    return
                if not self.dispatch(line):
                    return
        except socket.timeout:
            self.log.info("%s too slow or silent for %g s; dropped", self.who, self.timeout)
            self.reply_quietly(400, f"Timeout: nothing complete in {self.timeout:g} seconds, closing connection")
        except OSError as exc:
            self.log.info("%s went away: %s", self.who, exc.strerror or exc)

    def dispatch(self, line: bytes) -> bool:
        """Run one command line; return False when the session is over (QUIT)."""
        text = line.decode("utf-8", "surrogateescape")
        words = text.split()
        self.log.info("%s: %s", self.who, self.for_log(words) if words else shown(line))
        if not words:
            self.reply(500, "Empty command line")
            return True
        keyword = words[0].upper()
        method = getattr(self, f"do_{keyword}", None) if keyword.isascii() and keyword.isalpha() else None
        if method is None:
            name = words[0] if words[0].isascii() and words[0].isprintable() else ascii(words[0])
            self.reply(500, f"Unknown command {name[:40]}")
            return True
        try:
            # arguments are UTF-8 text, separated by spaces or TABs (RFC 3977, section 3.1)
            if any((ch < " " and ch != "\t") or "\udc80" <= ch <= "\udcff" for ch in text):
                raise Reply(501, "Syntax error: control characters or bytes that are not UTF-8")
            if self.server.require_auth and self.user is None and keyword not in self.before_auth:
                raise Reply(480, "Authentication required (AUTHINFO USER, then AUTHINFO PASS)")
            return method(words[1:]) is not False
        except Reply as r:
            self.reply(r.code, r.text)
            return True
        except (OSError, socket.timeout):
            raise
        except Exception as exc:            # a bug: say so, log it, keep the session going
            self.log.warning("%s: %s failed: %s: %s", self.who, keyword, type(exc).__name__, exc)
            self.reply(403, "Internal fault, sorry; the command was not carried out")
            return True

    @staticmethod
    def for_log(words: list[str]) -> str:
        """The command as logged: never the password."""
        if len(words) >= 3 and words[0].upper() == "AUTHINFO" and words[1].upper() == "PASS":
            return "AUTHINFO PASS ********"
        return " ".join(words)[:200]

    # ------------------------------------------------------------------ reading and writing

    def read_line(self, limit: int, timeout: float) -> bytes | None:
        """One line without its CRLF (a bare LF is accepted too); None at end of input.

        :raises TooLong: the line was longer than *limit* octets (CRLF included); the
            rest of it has been read and dropped, so the next line starts fresh.
        :raises TimeoutError: the line did not arrive within *timeout* seconds.
        """
        line = self.reader.readline(limit + 1, timeout)
        if not line:
            return None
        if len(line) > limit and not line.endswith(b"\n"):
            while True:                                 # drop the rest, a bounded chunk at a time
                rest = self.reader.readline(65536, timeout)
                if not rest or rest.endswith(b"\n"):
                    break
            raise TooLong()
        if line.endswith(b"\n"):
            line = line[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
        return line

    def reply(self, code: int, text: str) -> None:
        self.connection.sendall(f"{code} {text}".encode("utf-8", "surrogateescape") + CRLF)

    def reply_quietly(self, code: int, text: str) -> None:
        try:
            self.reply(code, text)
        except OSError:
            pass

    def reply_lines(self, code: int, text: str, lines) -> None:
        """A reply line, then a multi-line data block: dot-stuffed, ended by ``.``."""
        out = [f"{code} {text}".encode("utf-8", "surrogateescape")]
        for line in lines:
            if isinstance(line, str):
                line = line.encode("utf-8", "surrogateescape")
            out.append(b"." + line if line.startswith(b".") else line)
        out.append(b".")
        self.connection.sendall(CRLF.join(out) + CRLF)

    # ------------------------------------------------------------------ groups, ranges, articles

    def posting_allowed(self) -> bool:
        return any(g.posting for g in self.server.spool.groups())

    def need_group(self) -> Group:
        if self.group is None:
            raise Reply(412, "No newsgroup selected")
        return self.group

    def select(self, name: str) -> Group:
        group = self.server.spool.group(name)
        if group is None:
            raise Reply(411, f"No such newsgroup {name}")
        self.group = group
        self.current = group.numbers[0] if group.numbers else None
        return group

    def refresh(self) -> Group:
        """The selected group, with articles posted since it was selected."""
        group = self.need_group()
        self.group = self.server.spool.group(group.name) or group
        return self.group

    @staticmethod
    def parse_range(text: str) -> tuple[int, int | None]:
        """``N``, ``N-`` or ``N-M`` -> (low, high); high None means "to the end"."""
        m = _RANGE.fullmatch(text)
        if not m:
            raise Reply(501, f"Syntax error in range {text[:40]!r}")
        low = int(m.group(1))
        if not m.group(2):
            return low, low
        return low, int(m.group(3)) if m.group(3) else None

    def find(self, args: list[str]):
        """The article a command names: ``<message-id>``, a number, or the current one.

        Returns ``(number, entry)``; number is 0 for a message-id outside the current group.
        """
        spool = self.server.spool
        if len(args) > 1:
            raise Reply(501, "Syntax error: one article number or message-id")
        if args and args[0].startswith("<"):
            if not is_message_id(args[0]):
                raise Reply(501, f"Syntax error in message-id {args[0][:40]!r}")
            entry = spool.entry_by_id(args[0])
            if entry is None:
                raise Reply(430, f"No article with message-id {args[0]}")
            number = 0
            if self.group is not None:
                number = next((n for g, n in entry.places if g == self.group.name), 0)
            return number, entry
        if args and not _NUMBER.fullmatch(args[0]):
            raise Reply(501, f"Syntax error: {args[0][:40]!r} is not an article number or <message-id>")
        group = self.need_group()
        if args:
            number = int(args[0])
            entry = spool.entry(group.name, number)
            if entry is None:
                raise Reply(423, f"No article with number {number} in {group.name}")
            self.current = number
            return number, entry
        if self.current is None:
            raise Reply(420, "Current article number is invalid")
        entry = spool.entry(group.name, self.current)
        if entry is None:
            raise Reply(420, "Current article number is invalid")
        return self.current, entry

    def select_entries(self, args: list[str]):
        """For OVER and HDR: ``(number, entry)`` pairs of a range, a message-id or the current article."""
        if args and args[0].startswith("<"):
            return [self.find(args)]
        if not args:
            return [self.find([])]
        low, high = self.parse_range(args[0])
        group = self.refresh()
        spool = self.server.spool
        pairs = []
        for number in spool.numbers(group.name, low, high):
            entry = spool.entry(group.name, number)
            if entry is not None:
                pairs.append((number, entry))
        return pairs

    # ------------------------------------------------------------------ session commands

    def do_CAPABILITIES(self, args):
        caps = ["VERSION 2", "READER"]
        if self.posting_allowed():
            caps.append("POST")
        caps += ["NEWNEWS", "LIST ACTIVE NEWSGROUPS OVERVIEW.FMT HEADERS", "OVER MSGID", "HDR"]
        if self.server.tls_context is not None and not self.tls and self.user is None:
            caps.append("STARTTLS")
        if self.user is None:
            caps.append("AUTHINFO USER")
        caps.append("IMPLEMENTATION socklab news server")
        self.reply_lines(101, "Capability list:", caps)

    def do_MODE(self, args):
        if len(args) != 1 or args[0].upper() != "READER":
            raise Reply(501, "Syntax error: MODE READER")
        code = 200 if self.posting_allowed() else 201
        self.reply(code, "Reader mode, posting " + ("allowed" if code == 200 else "prohibited"))

    def do_QUIT(self, args):
        self.reply(205, "Connection closing")
        self.log.info("%s said goodbye", self.who)
        return False

    def do_HELP(self, args):
        self.reply_lines(100, "Help text follows", HELP.splitlines())

    def do_DATE(self, args):
        if args:
            raise Reply(501, "Syntax error: DATE takes no arguments")
        self.reply(111, datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S"))

    def do_SLAVE(self, args):
        """RFC 977's SLAVE: "this client is another server".  Noted and ignored."""
        self.reply(202, "Slave status noted")

    def do_IHAVE(self, args):
        raise Reply(502, "Transit service not offered: this is a reader server, use POST")

    def do_STARTTLS(self, args):
        """Switch this connection to TLS (RFC 4642), with the host's certificate.

        After ``382`` both sides do the TLS handshake on the same socket; from then on
        every byte is encrypted.  What the server knew of the session is forgotten, since
        it was said in the clear, where anyone could have changed it.
        """
        if args:
            raise Reply(501, "Syntax error: STARTTLS takes no arguments")
        if self.server.tls_context is None:
            raise Reply(502, "STARTTLS is not available: the server has no certificate")
        if self.tls or self.user is not None:
            raise Reply(502, "STARTTLS is not possible now (already TLS, or already logged in)")
        self.reply(382, "Continue with TLS negotiation")
        try:
            self.connection = self.server.tls_context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.log.info("%s: TLS handshake failed: %s", self.who, exc)
            return False
        self.reader = LineReader(self.connection)
        self.tls = True
        self.group, self.current, self.pending_user = None, None, None
        self.log.info("%s: TLS is on (%s)", self.who, self.connection.version())

    def do_AUTHINFO(self, args):
        """AUTHINFO USER name, then AUTHINFO PASS password (RFC 4643)."""
        if len(args) < 2 or args[0].upper() not in ("USER", "PASS"):
            raise Reply(501, "Syntax error: AUTHINFO USER name / AUTHINFO PASS password")
        if self.user is not None:
            raise Reply(502, f"Already authenticated as {self.user}")
        value = " ".join(args[1:])
        if args[0].upper() == "USER":
            self.pending_user = value
            self.reply(381, "Password required")
            return
        if self.pending_user is None:
            raise Reply(482, "Authentication commands issued out of sequence (USER first)")
        user, self.pending_user = self.pending_user, None
        if self.server.accounts.get(user) != value:
            self.log.info("%s: login as %r refused", self.who, user)
            raise Reply(481, "Authentication failed")
        self.user = user
        self.log.info("%s logged in as %s", self.who, user)
        self.reply(281, "Authentication accepted")

    # ------------------------------------------------------------------ lists

    def do_LIST(self, args):
        keyword = args[0].upper() if args else "ACTIVE"
        if len(args) > 2:
            raise Reply(501, "Syntax error: LIST [keyword [wildmat]]")
        wildmat = None
        if len(args) == 2 and keyword in ("ACTIVE", "NEWSGROUPS"):
            try:
                wildmat = check_wildmat(args[1])
            except WildmatError as exc:
                raise Reply(501, f"Syntax error: {exc}") from None
        spool = self.server.spool
        if keyword == "ACTIVE":
            lines = [f"{g.name} {g.high} {g.low} {g.flag}" for g in spool.groups(wildmat)]
            self.reply_lines(215, "List of newsgroups follows", lines)
        elif keyword == "NEWSGROUPS":
            lines = [f"{g.name}\t{g.description}" for g in spool.groups(wildmat)]
            self.reply_lines(215, "List of newsgroups follows", lines)
        elif keyword == "OVERVIEW.FMT":
            if len(args) > 1:
                raise Reply(501, "Syntax error: LIST OVERVIEW.FMT takes no argument")
            self.reply_lines(215, "Order of fields in overview database", OVERVIEW_FMT)
        elif keyword == "HEADERS":
            if len(args) > 1 and args[1].upper() not in ("MSGID", "RANGE"):
                raise Reply(501, "Syntax error: LIST HEADERS [MSGID|RANGE]")
            # ":" means "any header"; then the two metadata items HDR knows
            self.reply_lines(215, "Headers and metadata items supported", [":", ":bytes", ":lines"])
        elif keyword in ("DISTRIB.PATS", "ACTIVE.TIMES", "DISTRIBUTIONS", "MODERATORS", "MOTD", "SUBSCRIPTIONS"):
            raise Reply(503, f"LIST {keyword} is not supported by this server")
        else:
            raise Reply(501, f"Syntax error: unknown LIST keyword {keyword[:40]}")

    def parse_when(self, args: list[str]) -> float:
        """``yymmdd|yyyymmdd hhmmss [GMT]`` -> seconds since the epoch (RFC 3977 7.3)."""
        if len(args) not in (2, 3) or (len(args) == 3 and args[2].upper() != "GMT"):
            raise Reply(501, "Syntax error: expected yyyymmdd hhmmss [GMT]")
        date, clock = args[0], args[1]
        if not (date.isdigit() and len(date) in (6, 8) and clock.isdigit() and len(clock) == 6):
            raise Reply(501, "Syntax error in date or time")
        year = int(date[:-4])
        if len(date) == 6:
            # two digits: this century if not after this year, else the previous one
            now = datetime.now(timezone.utc).year
            year += now - now % 100
            if year > now:
                year -= 100
        try:
            when = datetime(year, int(date[-4:-2]), int(date[-2:]),
                            int(clock[:2]), int(clock[2:4]), int(clock[4:]))
        except ValueError:
            raise Reply(501, "Syntax error: no such date or time") from None
        # with GMT the time is UTC; without, the server's local time (RFC 3977 7.3.2)
        return (when.replace(tzinfo=timezone.utc) if len(args) == 3 else when.astimezone()).timestamp()

    def do_NEWGROUPS(self, args):
        since = self.parse_when(args)
        lines = [f"{g.name} {g.high} {g.low} {g.flag}" for g in self.server.spool.groups() if g.created >= since]
        self.reply_lines(231, "List of new newsgroups follows", lines)

    def do_NEWNEWS(self, args):
        if not args:
            raise Reply(501, "Syntax error: NEWNEWS wildmat yyyymmdd hhmmss [GMT]")
        try:
            wildmat = check_wildmat(args[0])
        except WildmatError as exc:
            raise Reply(501, f"Syntax error: {exc}") from None
        since = self.parse_when(args[1:])
        self.reply_lines(230, "List of new articles follows", self.server.spool.new_articles(since, wildmat))

    # ------------------------------------------------------------------ groups and articles

    def do_GROUP(self, args):
        if len(args) != 1:
            raise Reply(501, "Syntax error: GROUP name")
        g = self.select(args[0])
        self.reply(211, f"{g.count} {g.low} {g.high} {g.name}")

    def do_LISTGROUP(self, args):
        if len(args) > 2:
            raise Reply(501, "Syntax error: LISTGROUP [name [range]]")
        low, high = self.parse_range(args[1]) if len(args) == 2 else (1, None)
        g = self.select(args[0]) if args else self.refresh()
        self.current = g.numbers[0] if g.numbers else None
        numbers = self.server.spool.numbers(g.name, low, high)
        self.reply_lines(211, f"{g.count} {g.low} {g.high} {g.name} list follows", [str(n) for n in numbers])

    def _step(self, args, forward: bool):
        if args:
            raise Reply(501, "Syntax error: NEXT and LAST take no arguments")
        group = self.refresh()
        if self.current is None:
            raise Reply(420, "Current article number is invalid")
        spool = self.server.spool
        if forward:
            later = spool.numbers(group.name, self.current + 1)
            if not later:
                raise Reply(421, "No next article in this group")
            number = later[0]
        else:
            earlier = spool.numbers(group.name, 1, self.current - 1)
            if not earlier:
                raise Reply(422, "No previous article in this group")
            number = earlier[-1]
        self.current = number
        self.reply(223, f"{number} {spool.entry(group.name, number).message_id} Article found")

    def do_NEXT(self, args):
        self._step(args, forward=True)

    def do_LAST(self, args):
        self._step(args, forward=False)

    def _send_article(self, args, code: int, part: str):
        number, entry = self.find(args)
        if part == "stat":
            self.reply(223, f"{number} {entry.message_id} Article exists")
            return
        try:
            article = self.server.spool.read(entry)
        except (OSError, ArticleError) as exc:
            self.log.warning("cannot read %s: %s", entry.path, exc)
            raise Reply(403, "Internal fault: the article cannot be read") from None
        lines = {"article": article.lines, "head": article.head_lines, "body": article.body_lines}[part]()
        self.reply_lines(code, f"{number} {entry.message_id} {part.capitalize()} follows", lines)

    def do_ARTICLE(self, args):
        self._send_article(args, 220, "article")

    def do_HEAD(self, args):
        self._send_article(args, 221, "head")

    def do_BODY(self, args):
        self._send_article(args, 222, "body")

    def do_STAT(self, args):
        self._send_article(args, 223, "stat")

    # ------------------------------------------------------------------ overview and headers

    def do_OVER(self, args, legacy: bool = False):
        if len(args) > 1:
            raise Reply(501, "Syntax error: OVER [range|<message-id>]")
        if legacy and args and args[0].startswith("<"):
            raise Reply(501, "Syntax error: XOVER takes a range; OVER accepts a message-id")
        pairs = self.select_entries(args)
        if not pairs and not legacy:
            raise Reply(423, f"No articles in {args[0]}")
        lines = []
        for number, entry in pairs:
            fields = [entry.overview[name] for name in OVERVIEW_FMT]
            lines.append("\t".join([str(number)] + fields))
        self.reply_lines(224, "Overview information follows", lines)

    def do_XOVER(self, args):
        """RFC 2980's XOVER: OVER with ranges only; an empty range is an empty list."""
        self.do_OVER(args, legacy=True)

    def do_HDR(self, args, legacy: bool = False):
        if not 1 <= len(args) <= 2:
            raise Reply(501, f"Syntax error: {'XHDR' if legacy else 'HDR'} field [range|<message-id>]")
        name = args[0]
        if name.startswith(":") and name.lower() not in (":bytes", ":lines"):
            raise Reply(503, f"Metadata item {name[:40]} is not supported")
        by_id = len(args) == 2 and args[1].startswith("<")
        pairs = self.select_entries(args[1:])
        if not pairs and not legacy:
            raise Reply(423, f"No articles in {args[1]}")
        lines = []
        for number, entry in pairs:
            value = self.header_value(entry, name)
            if legacy:
                # RFC 2980: "(none)" for a missing header; the message-id form names the article by id
                label = entry.message_id if by_id else str(number)
                lines.append(f"{label} {value if value is not None else '(none)'}")
            else:
                lines.append(f"{number} {value or ''}")
        if legacy:
            self.reply_lines(221, f"{name} header follows", lines)
        else:
            self.reply_lines(225, "Headers follow", lines)

    def do_XHDR(self, args):
        self.do_HDR(args, legacy=True)

    def header_value(self, entry, name: str) -> str | None:
        """One header (or ``:bytes``/``:lines``) of an article, as one clean line."""
        lower = name.lower()
        for field in OVERVIEW_FMT:
            if field.lower().rstrip(":") == lower or field.lower() == lower or field.lower() == lower + ":full":
                value = entry.overview[field]
                if field == "Xref:full":
                    value = value[len("Xref: "):]
                return value or None
        try:
            value = self.server.spool.read(entry).get(name)
        except (OSError, ArticleError):
            return None
        return None if value is None else re.sub(r"[\t\r\n\0]", " ", value)

    # ------------------------------------------------------------------ posting

    def do_POST(self, args):
        if args:
            raise Reply(501, "Syntax error: POST takes no arguments")
        if not self.posting_allowed():
            raise Reply(440, "Posting not permitted")
        self.reply(340, "Send article to be posted. End with <CR-LF>.<CR-LF>")
        lines, problem = self.read_article()
        if lines is None:
            if problem == "timeout":
                self.log.info("%s too slow sending an article; dropped, nothing stored", self.who)
                self.reply_quietly(400, f"Timeout: the article was not complete in time "
                                        f"({self.server.post_timeout:g} s at most, {self.timeout:g} s per line)")
            else:
                self.log.info("%s went away in the middle of an article; nothing stored", self.who)
            return False
        if problem:
            raise Reply(441, f"Posting failed: {problem}")
        try:
            article = Article.from_lines(lines)
            groups = check_posting(article)
            entry = self.post(article, groups)
        except (ArticleError, SpoolError) as exc:
            self.log.info("%s: post refused: %s", self.who, exc)
            raise Reply(441, f"Posting failed: {exc}") from None
        where = ", ".join(f"{g}:{n}" for g, n in entry.places)
        self.log.info("%s posted %s to %s", self.who, entry.message_id, where)
        self.reply(240, f"{entry.message_id} Article received OK ({where})")

    def read_article(self):
        """Read a posted article up to the ``.`` line; undo dot-stuffing.

        Returns ``(lines, problem)``: problem is a reason to refuse (too big, a line too
        long) -- the article is still read to its end, so the conversation stays in step.
        Lines is None when the client vanished (problem ``"gone"``) or was too slow
        (``"timeout"``): the whole article must arrive within the server's
        ``post_timeout``, and every line within its ``idle_timeout``.
        """
        limit = self.server.max_article
        deadline = time.monotonic() + self.server.post_timeout
        lines, size, problem = [], 0, None
        while True:
            try:
                wait = min(self.timeout, deadline - time.monotonic())
                line = self.read_line(2 + 998 + 1, wait)        # one dot of stuffing allowed on top
            except TooLong:
                problem = problem or "a line is longer than 998 octets"
                continue
            except TimeoutError:
                return None, "timeout"
            if line is None:
                return None, "gone"
            if line == b".":
                return lines, problem
            if line.startswith(b"."):
                line = line[1:]
            size += len(line) + 2
            if size > limit:
                problem = problem or f"the article is larger than {limit} octets"
                continue
            if problem is None:
                lines.append(line)

    def post(self, article: Article, groups: list[str]):
        """Decide whether *article* may go to *groups*; add the server's headers; store it.

        The server, not the poster, writes ``Path``, ``Xref``, ``Injection-Date`` and
        ``Injection-Info``; it adds ``Message-ID`` and ``Date`` when they are missing.
        """
        spool = self.server.spool
        for name in groups:
            group = spool.group(name)
            if group is None:
                raise ArticleError(f"no such newsgroup {name}")
            if not group.posting:
                raise ArticleError(f"{name} is read-only (no posting)")
        now = datetime.now(timezone.utc)
        host = self.server.path_host
        if article.get("Message-ID") is None:
            article.set("Message-ID", f"<{now:%Y%m%d%H%M%S}.{uuid.uuid4().hex[:12]}@{host}>")
        if article.get("Date") is None:
            article.set("Date", format_date(now))
        path = article.get("Path")
        article.set("Path", f"{host}!{path}" if path else f"{host}!not-for-mail")
        article.set("Injection-Date", format_date(now))
        info = f'{host}; posting-host="{self.client_address[0]}"'
        if self.user:
            info += f'; posting-account="{self.user}"'
        article.set("Injection-Info", info)
        article.remove("Xref")
        try:
            return spool.store(article, groups)
        except DuplicateArticle as exc:
            raise ArticleError(str(exc)) from None

