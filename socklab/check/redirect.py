"""Run a student's client with some lab addresses redirected to a peer the checker controls.

``python3 -m socklab.check.redirect program.py`` runs *program.py* as ``__main__`` after
replacing ``socket.socket`` by a subclass whose ``connect``, ``connect_ex`` and ``sendto``
send traffic for the addresses in ``SOCKLAB_REDIRECT`` (JSON: ``{"udp-server:8888":
"127.0.0.1:40123"}``, or for ``AF_UNIX`` a socket file: ``{"/run/socklab/timestamp.sock":
"/tmp/peer.sock"}``) to the other address.  The program keeps its constants (``HOST =
'udp-server'``) and needs no option, yet a check can show it a server that loses datagrams,
answers in pieces or refuses the connection.  Names are matched as written and by the
addresses they resolve to (``socket.create_connection`` resolves before it connects).
"""

from __future__ import annotations

import json
import os
import runpy
import socket
import sys

_targets: dict[tuple[str, int], tuple[str, int]] = {}
_paths: dict[str, str] = {}          # AF_UNIX socket files: "/run/socklab/timestamp.sock" -> another


def _load(spec: str) -> None:
    for source, target in json.loads(spec).items():
        if source.startswith("/"):
            _paths[source] = target
            continue
        host, port = source.rsplit(":", 1)
        thost, tport = target.rsplit(":", 1)
        _targets[(host, int(port))] = (thost, int(tport))
        try:
            for info in socket.getaddrinfo(host, int(port)):
                _targets[(info[4][0], int(port))] = (thost, int(tport))
        except OSError:
            pass


def _map(address):
    if isinstance(address, (str, bytes)):
        return _paths.get(os.fsdecode(address), address)
    if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[0], str):
        target = _targets.get((address[0], address[1]))
        if target:
            return target + tuple(address[2:])
    return address


class _RedirectedSocket(socket.socket):
    def connect(self, address):
        return super().connect(_map(address))

    def connect_ex(self, address):
        return super().connect_ex(_map(address))

    def sendto(self, data, *args):
        if args:
            args = (*args[:-1], _map(args[-1]))
        return super().sendto(data, *args)


def main() -> None:
    _load(os.environ.get("SOCKLAB_REDIRECT", "{}"))
    socket.socket = _RedirectedSocket
    program = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(program)))
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main()
