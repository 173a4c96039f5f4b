"""What the FTP unit tests share: servers in this process and a throwaway certificate authority.

Servers listen on 127.0.0.1 with a port the kernel picks; each runs
:meth:`FTPLabServer.serve_forever` in a thread and is shut down when the test ends.
"""

from __future__ import annotations

import contextlib
import datetime
import ftplib
import ipaddress
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from socklab.services.ftp import FTPLabServer

USER, PASSWORD = "student", "s3cret"


def make_pki(directory: Path) -> dict[str, Path]:
    """A CA and a server certificate for localhost/127.0.0.1, like the lab's make-pki.sh."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "socklab-test"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("test CA")).issuer_name(name("test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("ftp")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {"ca": directory / "ca.crt", "cert": directory / "ftp.crt", "key": directory / "ftp.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return paths


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
