"""``udp-client``: the chapter's UDP timestamp client (default server ``udp-server:8888``).

No connection: every message is one datagram sent with ``sendto`` and the answer is read
with ``recvfrom``.  UDP promises nothing, so a reply may never come -- the client waits
``--timeout`` seconds (default 2) and then says plainly that the reply was lost, instead
of hanging forever like the chapter's version would.
"""

from __future__ import annotations

import socket
import sys

from socklab import cli
from socklab.i18n import _
from socklab.services.timestamp import BUFSIZ, PORT


@cli.main("udp-client")
def main(argv=None) -> int:
    p = cli.parser("udp-client", _("Talk to the UDP timestamp server."), "udp-server", PORT)
    p.set_defaults(timeout=2.0)
    cli.add_message_args(p)
    args = p.parse_args(argv)
    trace = cli.Trace(args.trace)
    where = f"{args.host}:{args.port}"
    with cli.guard(where):
        # Resolve once, so an unknown host is one clear error before anything is sent.
        family, _type, _proto, _name, addr = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_DGRAM)[0]
    lost = 0
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(args.timeout)
        for text in cli.messages(args):
            data = text.encode("utf-8")
            trace.sent(data)
            with cli.guard(where):
                sock.sendto(data, addr)
                try:
                    reply, sender = sock.recvfrom(BUFSIZ * 2)
                except socket.timeout:
                    lost += 1
                    print("udp-client: " + _("no reply from {where} within {seconds:g} s "
                                             "(the datagram or its answer was lost)").format(
                        where=where, seconds=args.timeout), file=sys.stderr, flush=True)
                    continue
            trace.received(reply)
            print(reply.decode("utf-8", errors="replace").rstrip("\n"), flush=True)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
