"""A news article: header fields, a blank line, a body (RFC 5536, in the format of e-mail).

::

    From: Ada <ada@lab.test>
    Newsgroups: comp.lang.python
    Subject: Re: sorting a list of tuples
    Message-ID: <0042.sort@news.lab.test>
    References: <0041.sort@news.lab.test>

    Use key=operator.itemgetter(1).

This module reads and checks articles and computes what the server says *about* them:

* :class:`Article` keeps the header fields as they arrived (folded lines included) and
  the body as bytes, so an article is sent back exactly as it was posted;
* :meth:`Article.overview` gives the fields of one ``OVER`` line (RFC 3977, section 8.3);
* :func:`check_posting` is what ``POST`` checks before the server accepts an article.

On the wire every line ends with CRLF; on disk the spool keeps plain LF, so that
``cat`` shows an article the way a person reads it.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable
from datetime import datetime, timezone

MAX_LINE = 998          # RFC 5322/5536: a line of an article is at most 998 octets
MAX_MSGID = 250         # RFC 3977: a message-id is at most 250 octets

# RFC 3977: message-id = "<" 1*248A-NOTGT ">" (printable ASCII, no ">")
_MSGID = re.compile(r"<[\x21-\x3D\x3F-\x7E]{1,248}>")
# RFC 5536 asks more of a new message-id: <left@right>, no spaces, no "<>" inside
_NEW_MSGID = re.compile(r"<[\x21-\x3B\x3D\x3F-\x7E]+@[\x21-\x3B\x3D\x3F-\x7E]+>")
_FIELD_NAME = re.compile(r"[\x21-\x39\x3B-\x7E]+")     # printable ASCII except ":"
_GROUP_NAME = re.compile(r"[a-z0-9+_-]+(\.[a-z0-9+_-]+)*")
_ADDRESS = re.compile(r"[^\s@<>]+@[^\s@<>]+")


class ArticleError(ValueError):
    """The article is malformed or breaks a rule; the text says which (reply ``441``)."""


def is_message_id(text: str) -> bool:
    """Is *text* a message-id as NNTP commands accept it (``<...>``, at most 250 octets)?"""
    return len(text) <= MAX_MSGID and _MSGID.fullmatch(text) is not None


def is_group_name(name: str) -> bool:
    """A newsgroup name as this server creates them: dotted parts of ``a-z 0-9 + _ -``."""
    return len(name) <= 200 and _GROUP_NAME.fullmatch(name) is not None


def unfold(value: str) -> str:
    """Undo header folding: ``"a\\n b"`` becomes ``"a b"`` (RFC 5322, section 2.2.3)."""
    return re.sub(r"\r?\n(?=[ \t])", "", value)


def overview_text(value: str | None) -> str:
    """A header value as an overview field: unfolded, and TAB, CR, LF, NUL made spaces."""
    if value is None:
        return ""
    return re.sub(r"[\t\r\n\0]", " ", unfold(value))


class Article:
    """One article: header fields (raw, in order) and the body.

    :param fields: the header fields, each the full text ``"Name: value"`` as received,
        a folded field keeping its line breaks (``"\\n"``) and leading whitespace.
    :param body: the body, lines separated by ``b"\\n"`` (no final newline).
    """

    def __init__(self, fields: list[str], body: bytes = b"") -> None:
        self.fields = list(fields)
        self.body = body

    # ------------------------------------------------------------------ reading

    @classmethod
    def from_lines(cls, lines: Iterable[bytes]) -> Article:
        """Build an article from its lines (without line ends), as ``POST`` receives them.

        :raises ArticleError: a header line that is not ``Name: value`` or a continuation,
            a header that is not UTF-8 text, or a control character in the header.
        """
        fields: list[str] = []
        body: list[bytes] | None = None
        for number, line in enumerate(lines, 1):
            if body is not None:
                body.append(line)
                continue
            if line == b"":
                body = []
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                raise ArticleError(f"header line {number} is not UTF-8 text") from None
            if re.search(r"[\x00-\x08\x0A-\x1F\x7F]", text):
                raise ArticleError(f"header line {number} contains a control character")
            if text[0] in " \t":
                if not fields:
                    raise ArticleError("the first header line is a continuation line")
                fields[-1] += "\n" + text
                continue
            name, colon, _ = text.partition(":")
            if not colon or not _FIELD_NAME.fullmatch(name):
                raise ArticleError(f"header line {number} is not 'Name: value': {text[:60]!r}")
            fields.append(text)
        if not fields:
            raise ArticleError("the article has no header")
        return cls(fields, b"\n".join(body or []))

    @classmethod
    def from_bytes(cls, data: bytes) -> Article:
        """Read an article as the spool stores it (LF line ends; CRLF is accepted too)."""
        if data.endswith(b"\n"):
            data = data[:-1]
        lines = [line[:-1] if line.endswith(b"\r") else line for line in data.split(b"\n")]
        return cls.from_lines(lines)

    def to_bytes(self) -> bytes:
        """The article as the spool stores it: LF line ends, a final newline."""
        head = "\n".join(self.fields).encode("utf-8")
        return head + b"\n\n" + self.body + b"\n"

    # ------------------------------------------------------------------ header fields

    @staticmethod
    def _name(field: str) -> str:
        return field.partition(":")[0]

    @staticmethod
    def _value(field: str) -> str:
        return field.partition(":")[2].lstrip(" \t")

    def get(self, name: str, default: str | None = None) -> str | None:
        """The (unfolded) value of the first field called *name*, ignoring case."""
        for field in self.fields:
            if self._name(field).lower() == name.lower():
                return unfold(self._value(field)).strip()
        return default

    def get_all(self, name: str) -> list[str]:
        return [unfold(self._value(f)).strip() for f in self.fields if self._name(f).lower() == name.lower()]

    def set(self, name: str, value: str) -> None:
        """Replace the first field called *name* (dropping any others), or append it."""
        new = f"{name}: {value}"
        for i, field in enumerate(self.fields):
            if self._name(field).lower() == name.lower():
                self.fields[i] = new
                self.remove(name, start=i + 1)
                return
        self.fields.append(new)

    def remove(self, name: str, start: int = 0) -> None:
        self.fields[start:] = [f for f in self.fields[start:] if self._name(f).lower() != name.lower()]

    # ------------------------------------------------------------------ as sent

    def head_lines(self) -> list[bytes]:
        """The header as lines without line ends (a folded field gives several lines)."""
        return "\n".join(self.fields).encode("utf-8").split(b"\n")

    def body_lines(self) -> list[bytes]:
        return self.body.split(b"\n") if self.body else []

    def lines(self) -> list[bytes]:
        """The whole article as lines: header, an empty line, body."""
        return self.head_lines() + [b""] + self.body_lines()

    @property
    def size(self) -> int:
        """``:bytes`` -- octets of the article as ``ARTICLE`` sends it (CRLF counts two),
        without dot-stuffing and without the final ``.`` line (RFC 3977, section 8.4.1)."""
        return sum(len(line) + 2 for line in self.lines())

    @property
    def line_count(self) -> int:
        """``:lines`` -- the number of lines in the body."""
        return len(self.body_lines())

    def overview(self) -> dict[str, str]:
        """The overview fields in the order of ``LIST OVERVIEW.FMT``, cleaned for one line."""
        xref = self.get("Xref")
        return {
            "Subject:": overview_text(self.get("Subject")),
            "From:": overview_text(self.get("From")),
            "Date:": overview_text(self.get("Date")),
            "Message-ID:": overview_text(self.get("Message-ID")),
            "References:": overview_text(self.get("References")),
            ":bytes": str(self.size),
            ":lines": str(self.line_count),
            # a field after the first seven names its header (RFC 3977, "Xref:full")
            "Xref:full": f"Xref: {overview_text(xref)}" if xref else "",
        }


# The order every OVER line follows; LIST OVERVIEW.FMT announces exactly this.
OVERVIEW_FMT = ["Subject:", "From:", "Date:", "Message-ID:", "References:", ":bytes", ":lines", "Xref:full"]


def parse_date(value: str) -> datetime | None:
    """An RFC 5322 date as an aware datetime, or None if it does not parse."""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:                   # "-0000": the zone is unknown; take UTC
        when = when.replace(tzinfo=timezone.utc)
    return when


def format_date(when: datetime) -> str:
    """An RFC 5322 date, as the server writes Date and Injection-Date."""
    return email.utils.format_datetime(when.astimezone(timezone.utc))


def check_posting(article: Article) -> list[str]:
    """Check what a reader sends with ``POST``; return the newsgroups it is posted to.

    The rules (RFC 5536, section 3, plus what a careful server checks):

    * ``From``, ``Newsgroups`` and ``Subject`` are present, once each, and not empty;
      ``From`` contains an address (``name@domain``);
    * ``Newsgroups`` is a comma-separated list of group names;
    * ``Message-ID``, if the poster chose one, looks like ``<left@right>``;
    * ``References``, if present, is a list of message-ids; ``Date``, if present, parses;
    * no line of the body is longer than 998 octets.

    Whether the groups exist and accept posts is the server's decision, not the article's.

    :raises ArticleError: with the first rule broken.
    """
    for name in ("From", "Newsgroups", "Subject", "Message-ID", "Date", "References"):
        if len(article.get_all(name)) > 1:
            raise ArticleError(f"more than one {name} header")
    for name in ("From", "Newsgroups", "Subject"):
        if not article.get(name):
            raise ArticleError(f"missing or empty {name} header")
    if not _ADDRESS.search(article.get("From")):
        raise ArticleError("the From header has no address (name@domain)")
    groups = [g.strip() for g in article.get("Newsgroups").split(",")]
    if any(not g for g in groups):
        raise ArticleError("empty newsgroup name in Newsgroups")
    for group in groups:
        if not is_group_name(group):
            raise ArticleError(f"bad newsgroup name in Newsgroups: {group!r}")
    msgid = article.get("Message-ID")
    if msgid is not None and not (is_message_id(msgid) and _NEW_MSGID.fullmatch(msgid)):
        raise ArticleError(f"malformed Message-ID: {msgid[:80]!r}")
    refs = article.get("References")
    if refs is not None:
        for ref in refs.split():
            if not is_message_id(ref):
                raise ArticleError(f"malformed message-id in References: {ref[:80]!r}")
    date = article.get("Date")
    if date is not None and parse_date(date) is None:
        raise ArticleError(f"unreadable Date: {date[:80]!r}")
    for number, line in enumerate(article.body_lines(), 1):
        if len(line) > MAX_LINE:
            raise ArticleError(f"body line {number} is longer than {MAX_LINE} octets")
    return list(dict.fromkeys(groups))        # in order, without repeats
