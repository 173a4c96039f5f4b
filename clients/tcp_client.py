"""``tcp-client``: the chapter's TCP timestamp client (default server ``tcp-server:8888``).

The recipe: ``socket()``, ``connect()``, then ``send()``/``recv()`` in a loop, ``close()``.
Type a line and the server answers ``[ctime] line``; an empty line ends the session::

    $ tcp-client
    > hello
    [Thu Sep  1 15:35:45 2016] hello
    >

Scripts can pass ``--message`` (repeatable) or pipe lines on standard input.
``--trace`` shows each chunk sent and received.
"""

from __future__ import annotations

import socket
import sys

from socklab import cli
from socklab.i18n import _
from socklab.services.timestamp import BUFSIZ, PORT


def converse(sock: socket.socket, args, where: str) -> None:
    """Send each message, print each reply; stop when the server closes the connection."""
    trace = cli.Trace(args.trace)
    with cli.guard(where):
        for text in cli.messages(args):
            data = text.encode("utf-8")
            trace.sent(data)
            sock.sendall(data)
            reply = sock.recv(BUFSIZ * 2)
            trace.received(reply)
            if not reply:
                raise cli.ClientError(_("{where} closed the connection").format(where=where))
            print(reply.decode("utf-8", errors="replace").rstrip("\n"), flush=True)
            if reply.startswith(b"error:"):
                raise cli.ClientError(_("{where} refused the message").format(where=where))


@cli.main("tcp-client")
def main(argv=None) -> int:
    p = cli.parser("tcp-client", _("Talk to the TCP timestamp server."), "tcp-server", PORT)
    cli.add_message_args(p)
    args = p.parse_args(argv)
    where = f"{args.host}:{args.port}"
    with cli.connect(args.host, args.port, args.timeout) as sock:
        converse(sock, args, where)
    return 0


if __name__ == "__main__":
    sys.exit(main())
