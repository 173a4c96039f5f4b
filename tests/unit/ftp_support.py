"""What the FTP unit tests share: servers in this process (and the throw-away CA of testpki.py).

Servers listen on 127.0.0.1 with a port the kernel picks; each runs
:meth:`FTPLabServer.serve_forever` in a thread and is shut down when the test ends.
"""

from __future__ import annotations

import contextlib
import ftplib
import ssl
import threading
from pathlib import Path


from socklab.services.ftp import FTPLabServer
from testpki import make_pki  # noqa: F401  (the FTP tests take it from here)

USER, PASSWORD = "student", "s3cret"


@contextlib.contextmanager
def running(root: Path, **kwargs):
    """An FTPLabServer on 127.0.0.1 serving in a thread; yields it, shuts it down after."""
    kwargs.setdefault("users", {USER: PASSWORD})
    kwargs.setdefault("auth_failed_delay", 0.05)
    server = FTPLabServer(("127.0.0.1", 0), root=root, **kwargs)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(10)
        assert not thread.is_alive(), "the server did not stop"


def login(server, user: str = USER, password: str = PASSWORD, *, tls_ca: Path | None = None,
          source: str | None = None) -> ftplib.FTP:
    """An ftplib session, logged in (over TLS, trusting *tls_ca*, if given)."""
    host, port = server.address
    if tls_ca:
        ftp: ftplib.FTP = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=str(tls_ca)), timeout=10,
                                         source_address=(source, 0) if source else None)
    else:
        ftp = ftplib.FTP(timeout=10, source_address=(source, 0) if source else None)
    ftp.connect(host, port)
    if tls_ca:
        ftp.auth()
    ftp.login(user, password)
    if tls_ca:
        ftp.prot_p()
    return ftp
