"""The timestamp server over ``AF_UNIX``: the same conversation through a socket *file*.

An ``AF_UNIX`` socket has a path in the file system instead of a host and port, so only
processes that can see that file can connect. In the lab the file lives on a volume that
the ``unix-server`` host and the ``client`` host both mount at ``/run/socklab``: two
containers, one socket file, no network in between.

Everything else is the TCP server's: :class:`UnixTimestampServer` changes only the address
family and how the address is bound.
"""

from __future__ import annotations

import argparse
import os
import socket
import stat

from socklab.log import configure
from socklab.services.tcp_server import TimestampServer, add_server_args
from socklab.serving import serve_until_stopped

SOCKET_PATH = "/run/socklab/timestamp.sock"


class UnixTimestampServer(TimestampServer):
    """:class:`TimestampServer` on an ``AF_UNIX`` stream socket at *address* (a path)."""

    family = socket.AF_UNIX
    name = "unix-server"

    def server_bind(self) -> None:
        # A socket file left by an earlier run would make bind() fail with "address in use";
        # remove it, but never remove something that is not a socket.
        try:
            if stat.S_ISSOCK(os.stat(self.address).st_mode):
                os.unlink(self.address)
        except FileNotFoundError:
            pass
        self.socket.bind(self.address)
        os.chmod(self.address, 0o666)   # any local user of the lab may connect

    def server_close(self) -> None:
        super().server_close()
        try:
            os.unlink(self.address)
        except OSError:
            pass


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="unix-server", description="The timestamp server on an AF_UNIX socket file.")
    p.add_argument("--path", default=SOCKET_PATH, help=f"socket file (default: {SOCKET_PATH})")
    add_server_args(p)
    args = p.parse_args(argv)
    configure()
    with UnixTimestampServer(args.path, bufsize=args.bufsize, idle_timeout=args.idle_timeout,
                             concurrent=args.concurrent, max_clients=args.max_clients,
                             max_per_address=args.max_per_address) as server:
        serve_until_stopped(server, server.log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
