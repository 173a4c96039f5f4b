"""``pop3-client``: read mail with ``poplib`` (default server ``mail``, port 110).

POP3 is the post office: log in, see how many messages wait, download them, delete them.
Each run is one session -- connect, ``stls()``, ``user()``/``pass_()``, one command,
``quit()`` -- and each command is one ``poplib.POP3`` method::

    poplib method        pop3-client          on the wire
    stat()               stat (the default)   STAT       how many messages, how many bytes
    list([n])            list [N]             LIST       number and size of each message
    uidl([n])            uidl [N]             UIDL       a lasting id for each message
    top(n, lines)        top N [LINES]        TOP        the headers (and LINES of the body)
    retr(n)              retr N               RETR       the whole message, shown decoded
    dele(n)              dele N [N...]        DELE       marked now, removed at QUIT
    quit()               always               QUIT       ends the session, commits deletions

Port 110 upgrades the connection with ``stls()`` before the password is sent (the lab's
server refuses passwords in clear text); port 995 (or ``--ssl``) is ``poplib.POP3_SSL``,
TLS from the first byte.  The certificate is verified against the lab CA either way.
``--trace`` shows the dialogue on stderr (``set_debuglevel(2)``), password included --
which is exactly why it must travel inside TLS.
"""

from __future__ import annotations

import argparse
import contextlib
import poplib
import sys

from socklab import cli
from socklab.i18n import _
from socklab.clients.mail_common import add_account_args, server_text, show_message, tls_context

PORT = 110


def connect(args) -> poplib.POP3:
    """Connect, secure the connection, log in."""
    if args.ssl or args.port == 995:
        pop = poplib.POP3_SSL(args.host, args.port, timeout=args.timeout, context=tls_context())
    else:
        pop = poplib.POP3(args.host, args.port, timeout=args.timeout)
    try:
        if args.trace:
            pop.set_debuglevel(2)
            print(f"*welcome* {pop.getwelcome()!r}")          # what the constructor read
        if not (args.ssl or args.port == 995) and not args.no_tls:
            pop.stls(tls_context())
        pop.user(args.user)
        pop.pass_(args.password)
    except BaseException:
        with contextlib.suppress(OSError):     # after a failed TLS handshake the socket is gone
            pop.close()
        raise
    return pop


def number(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(_("{text} is not a message number (1, 2, ...)").format(text=repr(text)))
    return int(text)


def run(pop: poplib.POP3, args) -> None:
    cmd, out = args.command, args.out
    if cmd == "stat":
        count, size = pop.stat()
        print(_("{count} message(s), {size} bytes").format(count=count, size=size), file=out)
    elif cmd in ("list", "uidl"):
        method = pop.list if cmd == "list" else pop.uidl
        if args.n:
            print(method(args.n).decode().split(" ", 1)[1], file=out)     # "+OK 1 617" -> "1 617"
        else:
            for line in method()[1]:
                print(line.decode(), file=out)
    elif cmd == "top":
        _resp, lines, _octets = pop.top(args.n, args.lines)
        show_message(b"\r\n".join(lines) + b"\r\n", headers_only=not args.lines, out=out)
    elif cmd == "retr":
        _resp, lines, _octets = pop.retr(args.n)
        raw = b"\r\n".join(lines) + b"\r\n"
        if args.raw:
            out.flush()
            out.buffer.write(raw)
        else:
            show_message(raw, save_to=args.save_attachments, out=out)
    elif cmd == "dele":
        for n in args.numbers:
            pop.dele(n)
            print(_("message {n} marked for deletion (removed at QUIT)").format(n=n), file=out)


@cli.main("pop3-client")
def main(argv=None) -> int:
    p = cli.parser("pop3-client", _("Read mail over POP3 with poplib."), "mail", PORT)
    add_account_args(p)
    p.add_argument("--ssl", action="store_true", help=_("TLS from the first byte (POP3_SSL; implied by port 995)"))
    p.add_argument("--no-tls", action="store_true",
                   help=_("skip STLS on port 110 (the lab's server then refuses the password)"))
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("stat", help=_("how many messages and bytes are waiting (the default)"))
    for name, what in (("list", _("the size of every message, or of message N")),
                       ("uidl", _("the unique id of every message, or of message N"))):
        c = sub.add_parser(name, help=what)
        c.add_argument("n", nargs="?", type=number, metavar="N")
    c = sub.add_parser("top", help=_("the headers of message N (and its first LINES lines)"))
    c.add_argument("n", type=number, metavar="N")
    c.add_argument("lines", nargs="?", type=int, default=0, metavar="LINES")
    c = sub.add_parser("retr", help=_("download message N and show it decoded"))
    c.add_argument("n", type=number, metavar="N")
    c.add_argument("--raw", action="store_true", help=_("print the message exactly as received"))
    c.add_argument("--save-attachments", metavar="DIR", help=_("save its attachments into DIR"))
    c = sub.add_parser("dele", help=_("delete messages (when the session ends with QUIT)"))
    c.add_argument("numbers", nargs="+", type=number, metavar="N")
    args = p.parse_args(argv)
    args.command = args.command or "stat"

    where = f"{args.host}:{args.port}"
    args.out = sys.stdout
    # poplib prints its --trace dialogue with print(): send that to stderr, results to stdout
    redirect = contextlib.redirect_stdout(sys.stderr) if args.trace else contextlib.nullcontext()
    with redirect, cli.guard(where):
        try:
            pop = connect(args)
            try:
                run(pop, args)
            except BaseException:
                with contextlib.suppress(OSError):
                    pop.close()      # no QUIT: the server forgets this session's deletions
                raise
            pop.quit()
        except poplib.error_proto as exc:
            raise cli.ClientError(f"{where}: {server_text(exc)}") from exc
    return 0


if __name__ == "__main__":
    sys.exit(main())
