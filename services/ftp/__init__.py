"""The lab's FTP hosts, ``ftp`` and ``ftp-backup``: pyftpdlib with the lab's accounts and rules.

* :mod:`.server` -- :class:`~.server.FTPLabServer` and the ``ftp-server`` command;
* :mod:`.seed` -- the files a fresh server starts with (``/pub`` and each account's home).
"""

from socklab.services.ftp.server import FTPLabServer

__all__ = ["FTPLabServer"]
