"""``imap-client``: work with mail on the server with ``imaplib`` (default server ``mail``, 143).

IMAP keeps the mail on the server, in folders, with flags; the client asks for exactly what
it wants -- a list of folders, the messages matching a search, the headers of one message,
one attachment of another.  Each run is one session (connect, ``starttls()``, ``login()``,
one command, ``logout()``); messages are named by their **UID**, which stays the same from
one session to the next (sequence numbers do not)::

    imap-client list ['*']                   LIST       folders, with their flags (\\Sent, ...)
    imap-client create|delete NAME           CREATE / DELETE
    imap-client rename OLD NEW               RENAME
    imap-client select [MAILBOX]             STATUS + EXAMINE + FETCH: counts, latest messages
    imap-client search [--from X] [--subject X] [--unseen] [--since 2024-05-01] ...
                                             UID SEARCH  (non-ASCII words: CHARSET UTF-8)
    imap-client fetch UID                    UID FETCH BODY[]          the message (marks \\Seen)
    imap-client fetch UID --headers          UID FETCH BODY.PEEK[HEADER]
    imap-client fetch UID --structure        UID FETCH BODYSTRUCTURE   its MIME parts, numbered
    imap-client fetch UID --part 2           UID FETCH BODY.PEEK[2]    one part, decoded
    imap-client flags [-m MAILBOX] UID [+\\Flagged -\\Seen ...]       UID STORE
    imap-client copy|move UID[,UID...] MAILBOX                       UID COPY / UID MOVE
    imap-client append MAILBOX [FILE]        APPEND     store a message (e.g. a copy in Sent)
    imap-client expunge [MAILBOX]            EXPUNGE    remove the messages flagged \\Deleted

Every command takes ``-m/--mailbox`` (default ``INBOX``) where it works inside a folder.
Folder names may be in any language: IMAP writes them in "modified UTF-7" (RFC 3501
5.1.3), which this client does for you (``已发送`` travels as ``&XfJT0ZAB-``).

Port 143 upgrades with ``starttls()`` before logging in (the lab's server refuses passwords
in clear text); port 993 (or ``--ssl``) is ``imaplib.IMAP4_SSL``.  Certificates are
verified against the lab CA.  ``--trace`` shows the dialogue on stderr (imaplib's debug).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import imaplib
import itertools
import re
import sys
from pathlib import Path

from socklab import cli
from socklab.i18n import _
from socklab.clients.mail_common import (add_account_args, body_text, pad, parse, server_text,
                                         show_message, tls_context)

PORT = 143
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


# --------------------------------------------------------------------------- folder names

def encode_mailbox(name: str) -> str:
    """Modified UTF-7 (RFC 3501 5.1.3): ASCII stays, '&' is '&-', the rest is '&base64-'."""
    out, run = [], []

    def flush() -> None:
        if run:
            data = "".join(run).encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",") + "-")
            run.clear()

    for ch in name:
        if " " <= ch <= "~":
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def decode_mailbox(name: str) -> str:
    """The inverse of :func:`encode_mailbox`; a name that is not valid modified UTF-7 stays as it is."""
    def one(m: re.Match) -> str:
        text = m.group(1)
        if not text:
            return "&"
        data = text.replace(",", "/")
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True).decode("utf-16-be")

    try:
        return re.sub(r"&([^-]*)-", one, name)
    except (ValueError, UnicodeDecodeError):
        return name


def quoted(text: str) -> str:
    """An IMAP quoted string: "..." with \\ and " escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox_arg(name: str) -> str:
    return quoted(encode_mailbox(name))


# --------------------------------------------------------------------------- reading replies

def parse_list_line(line: bytes) -> tuple[list[str], str, str]:
    """``(\\HasNoChildren \\Sent) "/" "Sent"`` -> (flags, delimiter, decoded name)."""
    m = re.fullmatch(rb'\(([^)]*)\) (NIL|"(?:[^"\\]|\\.)*") (.+)', line)
    if not m:
        raise cli.ClientError(_("cannot read the LIST reply {line}").format(line=repr(line)))
    flags = m.group(1).decode().split()
    delim = m.group(2).decode().strip('"')
    name = m.group(3).decode("utf-8", "replace")
    if name.startswith('"'):
        name = re.sub(r'\\(.)', r"\1", name[1:-1])
    return flags, delim, decode_mailbox(name)


def flatten(data: list) -> bytes:
    """imaplib's reply items back into the bytes the server sent (literals as {n}CRLF + bytes)."""
    return b"".join(item[0] + b"\r\n" + item[1] if isinstance(item, tuple) else item or b"" for item in data)


def tokens(data: bytes) -> list:
    """Read an IMAP parenthesized list (BODYSTRUCTURE, ...) into nested Python lists."""
    pos = 0

    def value():
        nonlocal pos
        while data[pos:pos + 1] == b" ":
            pos += 1
        ch = data[pos:pos + 1]
        if ch == b"(":
            pos += 1
            items = []
            while True:
                while data[pos:pos + 1] == b" ":
                    pos += 1
                if data[pos:pos + 1] == b")":
                    pos += 1
                    return items
                items.append(value())
        if ch == b'"':
            m = re.compile(rb'"((?:[^"\\]|\\.)*)"').match(data, pos)
            pos = m.end()
            return re.sub(rb"\\(.)", rb"\1", m.group(1)).decode("utf-8", "replace")
        if ch == b"{":                                   # a literal: {n}\r\n then n bytes
            m = re.compile(rb"\{(\d+)\}\r\n").match(data, pos)
            start = m.end()
            pos = start + int(m.group(1))
            return data[start:pos].decode("utf-8", "replace")
        m = re.compile(rb"[^ ()]+").match(data, pos)     # an atom, a number or NIL
        pos = m.end()
        atom = m.group().decode()
        return None if atom.upper() == "NIL" else atom

    return value()


def mime_parts(structure: list, prefix: str = "") -> list[tuple[str, str, str, int | None]]:
    """BODYSTRUCTURE -> [(part number, content type, file name, size)], numbered as BODY[n] wants.

    A multipart body is ``(part part ... "subtype" ...)``; a single part is
    ``("type" "subtype" (params) id description encoding size ... (disposition) ...)``.
    """
    if isinstance(structure[0], list):
        children = list(itertools.takewhile(lambda item: isinstance(item, list), structure))
        out = [(prefix, f"multipart/{str(structure[len(children)]).lower()}", "", None)]
        for i, child in enumerate(children, 1):
            out += mime_parts(child, f"{prefix}.{i}" if prefix else str(i))
        return out
    ctype = f"{structure[0]}/{structure[1]}".lower()
    disposition = next((item for item in structure[7:] if isinstance(item, list) and len(item) == 2
                        and isinstance(item[0], str) and isinstance(item[1], list)), None)
    size = int(structure[6]) if len(structure) > 6 and str(structure[6]).isdigit() else None
    return [(prefix or "1", ctype, file_name(ctype, structure[2], disposition), size)]


def file_name(ctype: str, params: list | None, disposition: list | None) -> str:
    """The attachment's name from BODYSTRUCTURE's parameters, decoded by the email package
    (it knows RFC 2231 ``filename*=utf-8''...`` and RFC 2047 ``=?utf-8?b?...?=``)."""
    def header_params(items: list | None) -> str:
        pairs = zip(items[::2], items[1::2]) if items else []
        return "".join(f"; {k}={v}" if str(k).endswith("*") else f"; {k}={quoted(str(v))}" for k, v in pairs)

    lines = [f"Content-Type: {ctype}{header_params(params)}"]
    if disposition:
        lines.append(f"Content-Disposition: {disposition[0]}{header_params(disposition[1])}")
    return parse(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")).get_filename() or ""


def imap_date(text: str) -> str:
    """``2024-05-01`` -> ``01-May-2024`` (IMAP's date, English months whatever the locale)."""
    try:
        d = datetime.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: give a date as YYYY-MM-DD") from exc
    return f"{d.day:02d}-{MONTHS[d.month - 1]}-{d.year}"


def uid_set(text: str) -> str:
    if not re.fullmatch(r"(\d+|\*)(:(\d+|\*))?(,(\d+|\*)(:(\d+|\*))?)*", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a UID or a set of UIDs (5, 5,7 or 1:*)")
    return text


# --------------------------------------------------------------------------- the session

class Session:
    """One logged-in imaplib connection, and the checks that turn NO/BAD into one clear line."""

    def __init__(self, imap: imaplib.IMAP4) -> None:
        self.imap = imap

    def ok(self, reply: tuple, what: str) -> list:
        typ, data = reply
        if typ != "OK":
            detail = data[0].decode("utf-8", "replace") if data and isinstance(data[0], bytes) else ""
            raise cli.ClientError(f"{what}: {typ} {detail}".rstrip())
        return data

    def select(self, mailbox: str, readonly: bool = False) -> int:
        typ, data = self.imap.select(mailbox_arg(mailbox), readonly=readonly)
        if typ != "OK":
            raise cli.ClientError(_("cannot open {mailbox}: {reply}").format(mailbox=mailbox, reply=data[0].decode("utf-8", "replace")))
        return int(data[0] or 0)

    def uid(self, command: str, *args, what: str = "") -> list:
        return self.ok(self.imap.uid(command, *args), what or f"UID {command}")

    def summaries(self, uids: list[bytes]) -> list[str]:
        """One line per message: UID, flags, date, sender, subject (headers decoded)."""
        if not uids:
            return []
        data = self.uid("FETCH", b",".join(uids).decode(),
                        "(UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])")
        lines = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta, header = item
            uid = re.search(rb"UID (\d+)", meta).group(1).decode()
            flags = re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode()
            msg = parse(header)
            date = msg["Date"]
            when = date.datetime.strftime("%Y-%m-%d %H:%M") if date is not None and date.datetime else "?"
            lines.append(f"{uid:>6}  {flags or '-':<18} {when}  {pad(str(msg['From'] or '?'), 30)}  "
                         f"{msg['Subject'] or ''}")
        return lines


def connect(args) -> imaplib.IMAP4:
    """Connect, secure the connection, log in."""
    if args.trace:
        imaplib.Debug = 4          # imaplib's own trace (greeting included) on stderr
    implicit = args.ssl or args.port == 993
    if implicit:
        imap = imaplib.IMAP4_SSL(args.host, args.port, ssl_context=tls_context(), timeout=args.timeout)
    else:
        imap = imaplib.IMAP4(args.host, args.port, timeout=args.timeout)
    try:
        if not implicit and not args.no_tls:
            imap.starttls(ssl_context=tls_context())
        imap.login(args.user, args.password)
    except BaseException:
        with contextlib.suppress(OSError):     # after a failed TLS handshake the socket is gone
            imap.shutdown()
        raise
    return imap


# --------------------------------------------------------------------------- the commands

def cmd_list(s: Session, args) -> None:
    for line in s.ok(s.imap.list('""', mailbox_arg(args.pattern)), "LIST"):
        if line:
            flags, _delim, name = parse_list_line(line)
            print(f"{pad(name, 24)} {' '.join(flags)}")


def cmd_create(s: Session, args) -> None:
    s.ok(s.imap.create(mailbox_arg(args.name)), _("cannot create {mailbox}").format(mailbox=args.name))
    s.imap.subscribe(mailbox_arg(args.name))
    print(_("created {mailbox}").format(mailbox=args.name))


def cmd_delete(s: Session, args) -> None:
    s.imap.unsubscribe(mailbox_arg(args.name))
    s.ok(s.imap.delete(mailbox_arg(args.name)), _("cannot delete {mailbox}").format(mailbox=args.name))
    print(_("deleted {mailbox}").format(mailbox=args.name))


def cmd_rename(s: Session, args) -> None:
    s.ok(s.imap.rename(mailbox_arg(args.old), mailbox_arg(args.new)), _("cannot rename {mailbox}").format(mailbox=args.old))
    s.imap.unsubscribe(mailbox_arg(args.old))
    s.imap.subscribe(mailbox_arg(args.new))
    print(_("renamed {old} to {new}").format(old=args.old, new=args.new))


def cmd_select(s: Session, args) -> None:
    data = s.ok(s.imap.status(mailbox_arg(args.mailbox), "(MESSAGES RECENT UNSEEN UIDNEXT UIDVALIDITY)"),
                _("cannot open {mailbox}").format(mailbox=args.mailbox))
    counts = dict(re.findall(r"(\w+) (\d+)", data[0].decode().rsplit("(", 1)[1]))
    print(_("{mailbox}: {messages} message(s), {recent} recent, {unseen} unseen "
            "(UIDVALIDITY {uidvalidity}, next UID {uidnext})").format(
        mailbox=args.mailbox, messages=counts["MESSAGES"], recent=counts["RECENT"], unseen=counts["UNSEEN"],
        uidvalidity=counts["UIDVALIDITY"], uidnext=counts["UIDNEXT"]))
    s.select(args.mailbox, readonly=True)      # EXAMINE: looking does not change \Recent or \Seen
    uids = s.uid("SEARCH", "ALL")[0].split()[-args.latest:] if args.latest else []
    for line in s.summaries(uids):
        print(line)


def cmd_search(s: Session, args) -> None:
    criteria: list[str] = []
    literal: tuple[str, str] | None = None       # imaplib sends one literal, as the last argument
    for key, value in (("FROM", args.from_), ("TO", args.to), ("SUBJECT", args.subject), ("TEXT", args.text)):
        if value is None:
            continue
        if value.isascii():
            criteria += [key, quoted(value)]
        elif literal is None:
            literal = (key, value)
        else:
            raise cli.ClientError(_("only one search word may be non-ASCII (it travels as an IMAP literal)"))
    for key, value in (("SINCE", args.since), ("BEFORE", args.before), ("ON", args.on)):
        if value:
            criteria += [key, value]
    criteria += [flag for flag, wanted in (("UNSEEN", args.unseen), ("SEEN", args.seen),
                                           ("FLAGGED", args.flagged), ("DELETED", args.deleted)) if wanted]
    s.select(args.mailbox, readonly=True)
    if literal:
        s.imap.literal = literal[1].encode("utf-8")
        uids = s.uid("SEARCH", "CHARSET", "UTF-8", *criteria, literal[0])[0].split()
    else:
        uids = s.uid("SEARCH", *(criteria or ["ALL"]))[0].split()
    print(_("{count} message(s) in {mailbox}").format(count=len(uids), mailbox=args.mailbox))
    for line in s.summaries(uids):
        print(line)


def cmd_fetch(s: Session, args) -> None:
    s.select(args.mailbox, readonly=args.peek or args.headers or args.structure or bool(args.part))
    if args.structure:
        meta = flatten(s.uid("FETCH", args.uid, "(BODYSTRUCTURE)"))
        if b"BODYSTRUCTURE " not in meta:
            raise cli.ClientError(_("no message with UID {uid} in {mailbox}").format(uid=args.uid, mailbox=args.mailbox))
        start = meta.index(b"BODYSTRUCTURE ") + len(b"BODYSTRUCTURE ")
        for number, ctype, name, size in mime_parts(tokens(meta[start:])):
            if ctype.startswith("multipart/"):
                label = number or _("(message)")
                print(f"{pad(label, 8)} {ctype}")
            else:
                size_text = _("{size} bytes").format(size=size) if size is not None else ""
                print(f"{number:<8} {ctype:<28} {size_text:>14}  {name}")
        return
    if args.part:
        data = s.uid("FETCH", args.uid, f"(BODY.PEEK[{args.part}.MIME] BODY.PEEK[{args.part}])")
        pieces = [item[1] for item in data if isinstance(item, tuple)]
        if len(pieces) != 2:
            raise cli.ClientError(_("no message with UID {uid} and part {part} in {mailbox}").format(
                uid=args.uid, part=args.part, mailbox=args.mailbox))
        part = parse(pieces[0] + pieces[1])          # the part's own headers, then its body
        payload = part.get_payload(decode=True) or b""
        if args.output:
            with open(args.output, "wb") as f:
                f.write(payload)
            print(_("part {part} ({type}, {size} bytes) saved as {file}").format(
                part=args.part, type=part.get_content_type(), size=len(payload), file=args.output))
        elif part.get_content_maintype() == "text":
            print(body_text(part).rstrip("\n"))
        else:
            sys.stdout.buffer.write(payload)
        return
    item = "BODY.PEEK[HEADER]" if args.headers else ("BODY.PEEK[]" if args.peek else "BODY[]")
    data = s.uid("FETCH", args.uid, f"({item})")
    pieces = [piece[1] for piece in data if isinstance(piece, tuple)]
    if not pieces:
        raise cli.ClientError(_("no message with UID {uid} in {mailbox}").format(uid=args.uid, mailbox=args.mailbox))
    if args.raw:
        sys.stdout.buffer.write(pieces[0])
    else:
        show_message(pieces[0], headers_only=args.headers, save_to=args.save_attachments)


def cmd_flags(s: Session, args) -> None:
    s.select(args.mailbox)
    add = [f[1:] for f in args.changes if f.startswith("+")]
    remove = [f[1:] for f in args.changes if f.startswith("-")]
    if add:
        s.uid("STORE", args.uid, "+FLAGS", f"({' '.join(add)})")
    if remove:
        s.uid("STORE", args.uid, "-FLAGS", f"({' '.join(remove)})")
    for item in s.uid("FETCH", args.uid, "(UID FLAGS)"):
        uid, flags = re.search(rb"UID (\d+)", item or b""), re.search(rb"FLAGS \(([^)]*)\)", item or b"")
        if uid and flags:
            shown = flags.group(1).decode() or _("(no flags)")
            print(f"{uid.group(1).decode()}: {shown}")


def cmd_copy(s: Session, args) -> None:
    s.select(args.mailbox)
    s.uid(args.command.upper(), args.uid, mailbox_arg(args.target), what=(_("cannot copy to {mailbox}") if args.command == "copy" else _("cannot move to {mailbox}")).format(
              mailbox=args.target))

    # UIDPLUS (RFC 4315): MOVE says "* OK [COPYUID validity old-uids new-uids]" -- the new UIDs
    typ, data = s.imap.response("COPYUID")
    new = _(" (now UID {uid} there)").format(uid=data[0].decode().split()[2]) if data and data[0] else ""
    done = _("copied {uid} from {mailbox} to {target}") if args.command == "copy" else _("moved {uid} from {mailbox} to {target}")
    print(done.format(uid=args.uid, mailbox=args.mailbox, target=args.target) + new)


def cmd_append(s: Session, args) -> None:
    try:
        raw = sys.stdin.buffer.read() if args.file in (None, "-") else Path(args.file).read_bytes()
    except OSError as exc:
        raise cli.ClientError(_("cannot read {file}: {reason}").format(file=args.file, reason=exc.strerror)) from exc
    flags = f"({' '.join(args.flag)})" if args.flag else None
    data = s.ok(s.imap.append(mailbox_arg(args.target), flags, None, raw), _("cannot append to {mailbox}").format(mailbox=args.target))
    m = re.search(rb"\[APPENDUID \d+ (\d+)\]", data[0] or b"")      # UIDPLUS (RFC 4315)
    new = _(" as UID {uid}").format(uid=m.group(1).decode()) if m else ""
    print(_("appended {size} bytes to {mailbox}").format(size=len(raw), mailbox=args.target) + new)


def cmd_expunge(s: Session, args) -> None:
    s.select(args.mailbox)
    data = s.ok(s.imap.expunge(), "EXPUNGE")
    removed = [d for d in data if d]
    print(_("expunged {count} message(s) from {mailbox}").format(count=len(removed), mailbox=args.mailbox))


COMMANDS = {"list": cmd_list, "create": cmd_create, "delete": cmd_delete, "rename": cmd_rename,
            "select": cmd_select, "search": cmd_search, "fetch": cmd_fetch, "flags": cmd_flags,
            "copy": cmd_copy, "move": cmd_copy, "append": cmd_append, "expunge": cmd_expunge}


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("imap-client", _("Work with mail on the server over IMAP with imaplib."), "mail", PORT)
    add_account_args(p)
    p.add_argument("--ssl", action="store_true", help=_("TLS from the first byte (IMAP4_SSL; implied by port 993)"))
    p.add_argument("--no-tls", action="store_true",
                   help=_("skip STARTTLS on port 143 (the lab's server then refuses the password)"))
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    p.set_defaults(command="select", mailbox="INBOX", latest=10)      # no command: select INBOX

    def command(name: str, help: str, mailbox: bool = False) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help)
        if mailbox:
            c.add_argument("-m", "--mailbox", default="INBOX", help=_("the folder (default: INBOX)"))
        return c

    command("list", _("the folders")).add_argument("pattern", nargs="?", default="*",
                                                help=_("which ones, e.g. 'Lab*' (default: all)"))
    command("create", _("make a folder")).add_argument("name")
    command("delete", _("remove a folder")).add_argument("name")
    c = command("rename", _("rename a folder"))
    c.add_argument("old")
    c.add_argument("new")
    c = command("select", _("counts and the latest messages of a folder (the default)"))
    c.add_argument("mailbox", nargs="?", default="INBOX")
    c.add_argument("-n", "--latest", type=int, default=10, help=_("how many messages to list (default: 10)"))
    c = command("search", _("find messages"), mailbox=True)
    c.add_argument("--from", dest="from_", metavar="TEXT", help=_("sender contains TEXT"))
    c.add_argument("--to", metavar="TEXT", help=_("recipient contains TEXT"))
    c.add_argument("--subject", metavar="TEXT", help=_("subject contains TEXT (any language)"))
    c.add_argument("--text", metavar="TEXT", help=_("headers or body contain TEXT"))
    c.add_argument("--since", type=imap_date, metavar="YYYY-MM-DD", help=_("arrived on or after"))
    c.add_argument("--before", type=imap_date, metavar="YYYY-MM-DD", help=_("arrived before"))
    c.add_argument("--on", type=imap_date, metavar="YYYY-MM-DD", help=_("arrived on"))
    for flag, help in (("unseen", _("only unseen messages")), ("seen", _("only seen messages")),
                       ("flagged", _("only flagged messages")), ("deleted", _("only deleted messages"))):
        c.add_argument(f"--{flag}", action="store_true", help=help)
    c = command("fetch", _("show one message, its headers, its MIME structure or one part"), mailbox=True)
    c.add_argument("uid", type=uid_set)
    what = c.add_mutually_exclusive_group()
    what.add_argument("--headers", action="store_true", help=_("the headers only"))
    what.add_argument("--structure", action="store_true", help=_("the MIME parts, numbered for --part"))
    what.add_argument("--part", metavar="N", help=_("only MIME part N (1, 2, 1.2, ...), decoded"))
    what.add_argument("--raw", action="store_true", help=_("the whole message as stored"))
    c.add_argument("--peek", action="store_true", help=_("do not mark the message \\Seen"))
    c.add_argument("-o", "--output", metavar="FILE", help=_("with --part: save the decoded part in FILE"))
    c.add_argument("--save-attachments", metavar="DIR", help=_("save the attachments into DIR"))
    c = command("flags", _("show or change flags: +\\Flagged -\\Seen +\\Deleted ..."), mailbox=True)
    c.add_argument("uid", type=uid_set)
    # REMAINDER: "-\Seen" is a flag change here, not an option
    c.add_argument("changes", nargs=argparse.REMAINDER, metavar="+FLAG|-FLAG")
    for name, help in (("copy", _("copy messages to another folder")), ("move", _("move messages to another folder"))):
        c = command(name, help, mailbox=True)
        c.add_argument("uid", type=uid_set)
        c.add_argument("target", metavar="MAILBOX")
    c = command("append", _("store a message file (or standard input) in a folder"))
    c.add_argument("target", metavar="MAILBOX")
    c.add_argument("file", nargs="?", help=_("the message (default: standard input)"))
    c.add_argument("--flag", action="append", metavar="FLAG", help=_("e.g. \\Seen (repeatable)"))
    c = command("expunge", _("remove the messages flagged \\Deleted"))
    c.add_argument("mailbox", nargs="?", default="INBOX")
    return p


@cli.main("imap-client")
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    for change in getattr(args, "changes", None) or []:
        if change[:1] not in "+-" or len(change) < 2:
            raise cli.ClientError(_("{change}: write a flag change as +\\Flagged or -\\Seen").format(change=repr(change)))
    where = f"{args.host}:{args.port}"
    with cli.guard(where):
        try:
            imap = connect(args)
            try:
                COMMANDS[args.command](Session(imap), args)
            finally:
                with contextlib.suppress(OSError, imaplib.IMAP4.error):
                    imap.logout()
        except (imaplib.IMAP4.error, imaplib.IMAP4.abort) as exc:
            raise cli.ClientError(f"{where}: {server_text(exc)}") from exc
    return 0


if __name__ == "__main__":
    sys.exit(main())
