"""``news-client``: read and post news with ``nntplib`` (default server ``news:119``).

Without a command it does what the chapter's example does: join a group, list the
subjects of the last ten articles with ``XHDR``, and ask which one to read::

    $ news-client
    comp.lang.python: 34 articles, 1-34
       25  Re: What does if __name__ == '__main__' do?
       ...
       34  Re: Generators explained in one paragraph?
    Which article do you want to read? 34

The commands::

    news-client groups [WILDMAT]            every group (or those matching comp.*, ...)
    news-client latest [-g GROUP] [-n 10]   the chapter's flow (the default)
    news-client read 12 | <message-id>      one article, headers decoded, MIME parts shown
    news-client thread 12 | <message-id>    the whole discussion it belongs to (References)
    news-client post -g lab.test -s SUBJECT [-m TEXT | -f FILE | standard input]

``--user``/``--password`` log in with AUTHINFO (optional on the lab's server), after
``--starttls`` if given (then the password does not cross the network in the clear);
``--trace`` prints every command and reply (``nntplib``'s debug output) on stderr.
(The CAPABILITIES exchange nntplib makes while connecting happens before tracing can start.)

``nntplib`` is in the standard library up to Python 3.12; from 3.13 on, the same module
comes from the ``standard-nntplib`` package (``pip install standard-nntplib``).
"""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import email.utils
import getpass
import re
import ssl
import sys
import warnings
from collections.abc import Iterator, Sequence

from socklab import cli
from socklab.i18n import _
from socklab.clients.mail_common import pad

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)     # 3.11-3.12: "slated for removal"
    try:
        import nntplib
    except ImportError:                                     # 3.13+ without standard-nntplib
        nntplib = None

PORT = 119
GROUP = "comp.lang.python"

if nntplib is not None:
    NNTPError = nntplib.NNTPError
else:
    class NNTPError(Exception):
        pass


def decode(text: str) -> str:
    """A header as a person reads it: encoded words (``=?utf-8?b?...?=``) decoded."""
    try:
        return nntplib.decode_header(text)
    except (LookupError, UnicodeDecodeError, ValueError):
        return text


# --------------------------------------------------------------------------- connecting

def connect(args) -> "nntplib.NNTP":
    """Connect (and log in if asked); errors become one clear line."""
    if nntplib is None:
        raise cli.ClientError(_("nntplib is missing: on Python 3.13 and later run "
                                "`pip install standard-nntplib`"))
    where = f"{args.host}:{args.port}"
    password = args.password
    if args.user and password is None:
        password = getpass.getpass(_("password for {user}: ").format(user=f"{args.user}@{args.host}"))
    with cli.guard(where), nntp_errors(where):
        server = nntplib.NNTP(args.host, args.port, timeout=args.timeout)
        if args.trace:
            server.set_debuglevel(1)    # from here on nntplib prints *cmd* and *resp* lines,
            server.getwelcome()         # and this prints the greeting it has already read
        if args.starttls:
            # the lab's CA is trusted system-wide, so the default context verifies "news"
            server.starttls(ssl.create_default_context(cafile=args.cafile))
        if args.user:
            server.login(args.user, password, usenetrc=False)
        return server


@contextlib.contextmanager
def nntp_errors(where: str) -> Iterator[None]:
    """An error reply from the server (4xx, 5xx) becomes one line: what the server said."""
    try:
        yield
    except NNTPError as exc:
        raise cli.ClientError(_("{where} answered: {reply}").format(where=where, reply=exc.response)) from exc


@contextlib.contextmanager
def session(args) -> Iterator["nntplib.NNTP"]:
    """``with session(args) as server:`` -- connect, turn errors into one line, QUIT at the end."""
    where = f"{args.host}:{args.port}"
    server = connect(args)
    try:
        with cli.guard(where), nntp_errors(where):
            yield server
    finally:
        try:
            server.quit()
        except (OSError, EOFError, NNTPError):
            pass


# --------------------------------------------------------------------------- showing articles

def show_article(lines: list[bytes], out=None) -> None:
    """Print an article for a person: main headers decoded, the text, MIME parts named."""
    out = out or sys.stdout
    msg = email.message_from_bytes(b"\n".join(lines) + b"\n", policy=email.policy.default)
    for name in ("From", "Newsgroups", "Subject", "Date", "Message-ID", "References"):
        if msg[name] is not None:
            print(f"{name}: {msg[name]}", file=out)      # policy.default decodes encoded words
    print(file=out)
    print(body_text(msg).rstrip("\n"), file=out)
    for part in msg.iter_attachments() if msg.is_multipart() else []:
        payload = part.get_payload(decode=True) or b""
        name = part.get_filename() or _("(no name)")
        print("\n[" + _("attachment {name}: {type}, {size} bytes").format(
            name=name, type=part.get_content_type(), size=len(payload)) + "]", file=out)
        if part.get_content_maintype() == "text":
            print(part.get_content().rstrip("\n"), file=out)


def body_text(msg: email.message.EmailMessage) -> str:
    """The readable text of a message: its text/plain body, decoded from its charset."""
    part = msg.get_body(preferencelist=("plain",)) if msg.is_multipart() else msg
    if part is None:
        return _("(no text part)")
    try:
        return part.get_content()
    except (LookupError, KeyError, UnicodeDecodeError, AttributeError):
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace")


def fetch(server, spec: str, group: str):
    """``ARTICLE`` by message-id, or by number in *group*: returns ArticleInfo."""
    if not spec.startswith("<"):
        if not spec.isdigit():
            raise cli.ClientError(_("{spec} is neither an article number nor a <message-id>").format(spec=repr(spec)))
        server.group(group)
    return server.article(spec)[1]


# --------------------------------------------------------------------------- the commands

def cmd_latest(server, args) -> None:
    """The chapter's flow: GROUP, XHDR subject of the last N articles, then read one."""
    _resp, count, first, last, name = server.group(args.group)
    print(_("{group}: {count} articles, {first}-{last}").format(group=name, count=count, first=first, last=last),
          file=args.out)
    if count == 0:
        return
    start = max(first, last - args.count + 1)
    _resp, subjects = server.xhdr("subject", f"{start}-{last}")
    for number, subject in subjects:
        print(f"{number:>5}  {decode(subject)}", file=args.out)
    choice = args.article
    if choice is None:
        if sys.stdin.isatty():
            try:
                choice = input(_("Which article do you want to read? ")).strip()
            except EOFError:
                choice = ""
        else:
            choice = sys.stdin.readline().strip()
    if not choice:
        return
    print(file=args.out)
    show_article(fetch(server, choice, args.group).lines, args.out)


def cmd_groups(server, args) -> None:
    """LIST ACTIVE and LIST NEWSGROUPS: name, articles, posting, description."""
    _resp, groups = server.list(args.wildmat)
    _resp, descriptions = server.descriptions(args.wildmat or "*")
    flags = {"y": _("posting ok"), "n": _("read-only"), "m": _("moderated")}
    for g in groups:
        last, first = int(g.last), int(g.first)
        count = max(0, last - first + 1)
        print(f"{g.group:<20} " + _("{count:>5} articles").format(count=count)
              + f"  {pad(flags.get(g.flag, g.flag), 10)}  {descriptions.get(g.group, '')}", file=args.out)


def cmd_read(server, args) -> None:
    show_article(fetch(server, args.article, args.group).lines, args.out)


def cmd_thread(server, args) -> None:
    """Follow References up to the first article of the discussion, then show every reply."""
    info = fetch(server, args.article, args.group)
    msg = email.message_from_bytes(b"\n".join(info.lines), policy=email.policy.compat32)
    me = msg["Message-ID"].strip()
    ancestors = (msg["References"] or "").split()
    root = ancestors[0] if ancestors else me
    group = args.group if not args.article.startswith("<") else msg["Newsgroups"].split(",")[0].strip()
    _resp, count, first, last, _name = server.group(group)
    _resp, overviews = server.over((first, last))
    children: dict[str, list] = {}
    ids = {}
    for number, over in overviews:
        msgid = over["message-id"]
        ids[msgid] = (number, over)
        refs = (over.get("references") or "").split()
        if msgid != root and (root in refs):
            children.setdefault(refs[-1], []).append(msgid)
    if root not in ids:
        print(_("(the first article, {root}, is not in {group})").format(root=root, group=group), file=args.out)
    print(_("thread in {group}:").format(group=group), file=args.out)

    def show(msgid: str, depth: int) -> None:
        number, over = ids[msgid]
        author = decode(over["from"])
        name = email.utils.parseaddr(author)[0] or author
        mark = "*" if msgid == me else " "
        print(f"{mark}{number:>5}  {'  ' * depth}{decode(over['subject'])}  ({name})", file=args.out)
        for child in sorted(children.get(msgid, []), key=lambda m: ids[m][0]):
            show(child, depth + 1)

    if root in ids:
        show(root, 0)
    else:
        for orphan in sorted((m for m, (n, o) in ids.items()
                              if root in (o.get("references") or "").split()
                              and (o.get("references") or "").split()[-1] not in ids),
                             key=lambda m: ids[m][0]):
            show(orphan, 0)


def cmd_post(server, args) -> None:
    """Build an article with the email package and POST it; print the new message-id."""
    if args.message is not None:
        text = args.message
    elif args.file is not None:
        with open(args.file, encoding="utf-8") as f:
            text = f.read()
    else:
        text = sys.stdin.read()
    msg = email.message.EmailMessage()
    msg["From"] = args.sender
    msg["Newsgroups"] = args.group
    msg["Subject"] = args.subject
    if args.references:
        msg["References"] = " ".join(args.references)
    msg.set_content(text if text.endswith("\n") else text + "\n",
                    cte="8bit" if not text.isascii() else "7bit")
    # policy.SMTP: CRLF line ends, non-ASCII headers as encoded words
    data = msg.as_bytes(policy=email.policy.SMTP)
    response = server.post(data)
    found = re.search(r"<[^<>\s]+>", response)
    print(_("posted {message_id}").format(message_id=found.group(0) if found else "").rstrip(), file=args.out)
    print(response, file=args.out)


def default_sender() -> str:
    user = cli.env("USER", "") or getpass.getuser()
    return f"{user} <{user}@lab.test>"


# --------------------------------------------------------------------------- main

@cli.main("news-client")
def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser("news-client", _("Read and post news over NNTP with nntplib."), "news", PORT)
    p.add_argument("--user", default=None, help=_("log in with AUTHINFO as this user (optional)"))
    p.add_argument("--password", default=None, help=_("the password (asked for if --user is given without it)"))
    p.add_argument("--starttls", action="store_true", help=_("encrypt the connection with STARTTLS first"))
    p.add_argument("--cafile", default=None, help=_("trust this CA for --starttls (default: the system's)"))
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    latest = sub.add_parser("latest", help=_("the chapter's flow: last subjects of a group, then read one"))
    latest.add_argument("-g", "--group", default=GROUP, help=_("newsgroup (default: {group})").format(group=GROUP))
    latest.add_argument("-n", "--count", type=int, default=10, help=_("how many subjects (default: 10)"))
    latest.add_argument("-a", "--article", default=None,
                        help=_("read this article number without asking (an empty answer reads none)"))

    groups = sub.add_parser("groups", help=_("list the newsgroups"))
    groups.add_argument("wildmat", nargs="?", default=None, help=_("only groups matching, e.g. 'comp.*'"))

    read = sub.add_parser("read", help=_("read one article by number or <message-id>"))
    read.add_argument("article", help=_("article number (in --group) or <message-id>"))
    read.add_argument("-g", "--group", default=GROUP, help=_("newsgroup for a number (default: {group})").format(group=GROUP))

    thread = sub.add_parser("thread", help=_("show the discussion an article belongs to"))
    thread.add_argument("article", help=_("article number (in --group) or <message-id>"))
    thread.add_argument("-g", "--group", default=GROUP, help=_("newsgroup for a number (default: {group})").format(group=GROUP))

    post = sub.add_parser("post", help=_("post an article (text from -m, -f or standard input)"))
    post.add_argument("-g", "--group", required=True, help=_("newsgroup(s), comma-separated"))
    post.add_argument("-s", "--subject", required=True, help=_("subject (any language)"))
    post.add_argument("--from", dest="sender", default=default_sender(),
                      help=_("author, e.g. 'Ada <ada@lab.test>' (default: you@lab.test)"))
    post.add_argument("-r", "--references", nargs="*", default=None, metavar="MSGID",
                      help=_("message-ids this article replies to (oldest first)"))
    body = post.add_mutually_exclusive_group()
    body.add_argument("-m", "--message", default=None, help=_("the text of the article"))
    body.add_argument("-f", "--file", default=None, help=_("read the text from this file"))

    # no command: the chapter's flow with its defaults
    p.set_defaults(command="latest", group=GROUP, count=10, article=None)
    args = p.parse_args(argv)
    run = {"latest": cmd_latest, "groups": cmd_groups, "read": cmd_read,
           "thread": cmd_thread, "post": cmd_post}[args.command]
    args.out = sys.stdout
    # nntplib prints its --trace dialogue with print(): send that to stderr, results to stdout
    redirect = contextlib.redirect_stdout(sys.stderr) if args.trace else contextlib.nullcontext()
    with redirect, session(args) as server:
        run(server, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
