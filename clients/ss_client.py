"""``ss-client``: the client for the ``socketserver`` timestamp server (``ss-server:8888``).

That server reads exactly one line per connection, so this client -- like the chapter's --
opens a **new connection for every message** and ends each message with ``\\r\\n``::

    while True:
        s = socket(); s.connect(ADDR)
        s.send(b"%s\\r\\n" % data); print(s.recv(BUFSIZ)); s.close()
"""

from __future__ import annotations

import sys

from socklab import cli
from socklab.i18n import _
from socklab.services.timestamp import BUFSIZ, PORT


def read_reply(sock) -> bytes:
    """Everything the server sends before it closes the connection."""
    chunks = []
    while chunk := sock.recv(BUFSIZ * 2):
        chunks.append(chunk)
    return b"".join(chunks)


@cli.main("ss-client")
def main(argv=None) -> int:
    p = cli.parser("ss-client", _("Talk to the socketserver timestamp server."), "ss-server", PORT)
    cli.add_message_args(p)
    args = p.parse_args(argv)
    trace = cli.Trace(args.trace)
    where = f"{args.host}:{args.port}"
    for text in cli.messages(args):
        with cli.connect(args.host, args.port, args.timeout) as sock, cli.guard(where):
            trace.note(f"connected to {where}")
            data = text.encode("utf-8") + b"\r\n"
            trace.sent(data)
            sock.sendall(data)
            reply = read_reply(sock)
            trace.received(reply)
        if not reply:
            raise cli.ClientError(_("{where} closed the connection without a reply").format(where=where))
        print(reply.decode("utf-8", errors="replace").rstrip("\r\n"), flush=True)
        if reply.startswith(b"error:"):
            raise cli.ClientError(_("{where} refused the message").format(where=where))
    return 0


if __name__ == "__main__":
    sys.exit(main())
