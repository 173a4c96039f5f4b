"""``unix-client``: the timestamp client over an ``AF_UNIX`` socket file.

Only the first two lines differ from ``tcp-client``: the socket is ``AF_UNIX`` and
``connect`` takes a path (default ``/run/socklab/timestamp.sock``, shared with the
``unix-server`` host) instead of ``(host, port)``.
"""

from __future__ import annotations

import socket
import sys

from socklab import cli
from socklab.i18n import _
from socklab.clients.tcp_client import converse
from socklab.services.unix_server import SOCKET_PATH


@cli.main("unix-client")
def main(argv=None) -> int:
    p = cli.parser("unix-client", _("Talk to the timestamp server over an AF_UNIX socket."), None, None)
    p.add_argument("--path", default=SOCKET_PATH, help=_("socket file (default: {path})").format(path=SOCKET_PATH))
    cli.add_message_args(p)
    args = p.parse_args(argv)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(args.timeout)
    with sock:
        with cli.guard(args.path):
            sock.connect(args.path)
        converse(sock, args, args.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
