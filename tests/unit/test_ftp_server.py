"""The FTP server (services/ftp) in this process: accounts, rules, limits, FTPS, HASH, seed files."""

from __future__ import annotations

import ftplib
import hashlib
import io
import logging
import os
import socket
import ssl
import threading
import time

import pytest
from concurrently import failures
from ftp_support import PASSWORD, USER, login, make_pki, running

from socklab.services.ftp import seed
from socklab.services.ftp.server import FTPLabServer, default_gateways


@pytest.fixture
def root(tmp_path):
    return tmp_path / "srv"


@pytest.fixture
def server(root):
    with running(root) as srv:
        yield srv


def read_reply(sock: socket.socket, timeout: float = 5.0) -> str:
    """Read one whole reply line from a raw control connection."""
    sock.settimeout(timeout)
    data = b""
    while not data.endswith(b"\r\n"):
        byte = sock.recv(1)                 # one at a time: never read into the next reply
        if not byte:
            break
        data += byte
    return data.decode()


def raw(server, source: str | None = None) -> socket.socket:
    sock = socket.create_connection(server.address, timeout=5, source_address=(source, 0) if source else None)
    assert read_reply(sock).startswith("220 ")
    return sock


# --------------------------------------------------------------------------- /pub and the seed files

def test_anonymous_sees_pub_with_text_binary_tree_and_large_file(server, root):
    ftp = login(server, "anonymous", "guest@example.org")
    assert ftp.pwd() == "/"
    assert ftp.nlst() == ["pub"]
    assert sorted(ftp.nlst("/pub")) == ["README.txt", "binary", "large", "tree"]
    lines = []
    ftp.retrlines("RETR /pub/README.txt", lines.append)
    assert "Welcome to the socklab FTP server." in lines[0]
    binary = io.BytesIO()
    ftp.retrbinary("RETR /pub/binary/bytes-0-255.bin", binary.write)
    assert binary.getvalue() == bytes(range(256)) * 4
    assert ftp.nlst("/pub/tree/data/2016/09") == ["01.csv", "02.csv"]
    ftp.cwd("/pub/tree/docs/protocols")
    assert ftp.pwd() == "/pub/tree/docs/protocols"
    big = hashlib.sha256()
    ftp.retrbinary("RETR /pub/large/random-8MiB.bin", big.update, blocksize=1 << 16)
    expected = io.BytesIO()
    ftp.retrbinary("RETR /pub/large/random-8MiB.bin.sha256", expected.write)
    assert expected.getvalue().decode() == f"{big.hexdigest()}  random-8MiB.bin\n"
    assert ftp.size("/pub/large/random-8MiB.bin") == 8 * 1024 * 1024
    ftp.quit()


def test_ascii_mode_changes_binary_data_and_binary_mode_does_not(server):
    ftp = login(server, "anonymous", "guest@example.org")
    original = bytes(range(256)) * 4
    ftp.encoding = "latin-1"                        # one character per byte, whatever the byte
    text_mode = []
    ftp.retrlines("RETR /pub/binary/bytes-0-255.bin", text_mode.append)
    as_text = "".join(line + "\n" for line in text_mode).encode("latin-1")
    assert as_text != original and len(as_text) != len(original)
    binary = io.BytesIO()
    ftp.retrbinary("RETR /pub/binary/bytes-0-255.bin", binary.write)
    assert binary.getvalue() == original
    ftp.quit()


def test_prepare_fills_in_and_never_overwrites(tmp_path):
    homes = seed.prepare(tmp_path, ["alice"], outbox=5)
    readme = homes["anonymous"] / "pub" / "README.txt"
    readme.write_text("changed")
    (homes["alice"] / "outbox" / "obs-20160901-0001.dat").unlink()
    big = homes["anonymous"] / "pub" / "large" / seed.LARGE_NAME
    first = big.stat().st_mtime_ns
    again = seed.prepare(tmp_path, ["alice"], outbox=5)
    assert again == homes
    assert readme.read_text() == "changed"
    # the outbox is made with a new home only: a moved-away file does not come back
    assert not (homes["alice"] / "outbox" / "obs-20160901-0001.dat").exists()
    assert sorted(p.name for p in (homes["alice"] / "outbox").iterdir())[:2] == ["notes.txt", "obs-20160901-0002.dat"]
    assert big.stat().st_mtime_ns == first
    data = big.read_bytes()
    assert len(data) == seed.LARGE_SIZE
    assert (big.parent / f"{seed.LARGE_NAME}.sha256").read_text().split()[0] == hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- accounts and rights

def test_anonymous_cannot_write_anything(server, root):
    ftp = login(server, "anonymous", "guest@example.org")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    for attempt in (lambda: ftp.storbinary("STOR /pub/new.txt", io.BytesIO(b"x")),
                    lambda: ftp.storbinary("APPE /pub/README.txt", io.BytesIO(b"x")),
                    lambda: ftp.mkd("/pub/newdir"),
                    lambda: ftp.delete("/pub/README.txt"),
                    lambda: ftp.rename("/pub/README.txt", "/pub/x.txt"),
                    lambda: ftp.rmd("/pub/tree"),
                    lambda: ftp.sendcmd("SITE CHMOD 777 /pub/README.txt")):
        with pytest.raises(ftplib.error_perm, match="^550 "):
            attempt()
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    ftp.quit()


def test_student_has_full_rights_in_home(server, root):
    ftp = login(server)
    assert ftp.pwd() == "/"
    assert ftp.mkd("reports") == "/reports"
    ftp.storbinary("STOR reports/a.bin", io.BytesIO(b"\x00\r\n\xff" * 1000))
    ftp.storlines("STOR reports/t.txt", io.BytesIO(b"one\ntwo\n"))
    with pytest.raises(ftplib.error_perm, match="^550 SIZE not allowed in ASCII mode"):
        ftp.size("reports/a.bin")                   # storlines left the session in TYPE A
    ftp.voidcmd("TYPE I")
    assert ftp.size("reports/a.bin") == 4000
    ftp.rename("reports/a.bin", "reports/b.bin")
    home = root / "home" / USER
    assert (home / "reports" / "b.bin").read_bytes() == b"\x00\r\n\xff" * 1000
    assert (home / "reports" / "t.txt").read_bytes() == b"one\ntwo\n"
    ftp.delete("reports/b.bin")
    ftp.delete("reports/t.txt")
    ftp.rmd("reports")
    assert not (home / "reports").exists()
    ftp.quit()


def test_wrong_password_and_unknown_user_are_refused(server):
    host, port = server.address
    for user, password in ((USER, "wrong"), ("nobody", PASSWORD)):
        ftp = ftplib.FTP()
        ftp.connect(host, port, timeout=5)
        with pytest.raises(ftplib.error_perm, match="^530 Authentication failed"):
            ftp.login(user, password)
        ftp.close()


def test_commands_before_login_are_refused(server):
    sock = raw(server)
    sock.sendall(b"LIST\r\n")
    assert read_reply(sock).startswith("530 ")
    sock.close()


# --------------------------------------------------------------------------- no way out of the home

def test_dotdot_stops_at_the_home(server, root):
    ftp = login(server)
    ftp.cwd("../../..")
    assert ftp.pwd() == "/"
    assert "README.txt" in ftp.nlst()          # still the home, not the server's root
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.retrbinary("RETR ../../../../etc/passwd", lambda d: None)
    ftp.quit()


def test_absolute_paths_are_inside_the_home(server, root):
    ftp = login(server)
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.retrbinary("RETR /etc/passwd", lambda d: None)
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.cwd(str(root / "public"))            # the real path of another account's root
    ftp.storbinary("STOR /top.txt", io.BytesIO(b"here"))
    assert (root / "home" / USER / "top.txt").read_bytes() == b"here"
    ftp.quit()


def test_symlinks_that_lead_outside_are_refused(server, root, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for ftp")
    home = root / "home" / USER
    os.symlink(secret, home / "link-to-secret")
    os.symlink(tmp_path, home / "link-to-dir")
    os.symlink(home / "README.txt", home / "inside-link")
    ftp = login(server)
    with pytest.raises(ftplib.error_perm, match="^550 .*outside the user's root"):
        ftp.retrbinary("RETR link-to-secret", lambda d: None)
    with pytest.raises(ftplib.error_perm, match="^550 .*outside the user's root"):
        ftp.cwd("link-to-dir")
    with pytest.raises(ftplib.error_perm, match="^550 .*outside the user's root"):
        ftp.storbinary("STOR link-to-secret", io.BytesIO(b"overwrite"))
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("HASH link-to-secret")
    assert secret.read_text() == "not for ftp"
    got = io.BytesIO()
    ftp.retrbinary("RETR inside-link", got.write)   # a link that stays inside is fine
    assert got.getvalue() == (home / "README.txt").read_bytes()
    ftp.quit()


# --------------------------------------------------------------------------- bad input

def test_unknown_command_gets_500_and_the_session_goes_on(server):
    sock = raw(server)
    sock.sendall(b"FROB x\r\n")
    assert read_reply(sock) == '500 Command "FROB" not understood.\r\n'
    sock.sendall(b"NOOP\r\n")
    assert read_reply(sock).startswith("200 ")
    sock.close()


def test_a_10kb_line_gets_one_500_and_the_session_goes_on(server):
    sock = raw(server)
    sock.sendall(b"USER " + b"x" * 10_000 + b"\r\nNOOP\r\n")
    assert read_reply(sock) == "500 Command line too long (more than 2048 bytes); ignored.\r\n"
    assert read_reply(sock).startswith("200 ")     # the very next reply is NOOP's
    sock.close()


def test_a_nul_byte_in_a_name_gets_501_and_the_session_goes_on(server):
    """No file name can hold a NUL: every command that takes a name says so, and nothing ends."""
    sock = raw(server)
    sock.sendall(f"USER {USER}\r\nPASS {PASSWORD}\r\n".encode())
    assert read_reply(sock).startswith("331 ") and read_reply(sock).startswith("230 ")
    for command in ("CWD", "MKD", "RETR", "STOR", "SIZE", "DELE", "RNFR", "LIST", "MLSD", "HASH", "SITE CHMOD 755"):
        sock.sendall(command.encode() + b" a\x00b\r\n")
        assert read_reply(sock).startswith("501 Syntax error: a NUL byte"), command
    sock.sendall(b"PWD\r\n")
    assert read_reply(sock).startswith("257 ")       # still logged in, still served
    sock.close()


def test_client_vanishing_mid_transfer_does_not_hurt_others(root):
    with running(root, rate_limit=2_000_000) as srv:
        ftp = login(srv, "anonymous", "x@y")
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("RETR /pub/large/random-8MiB.bin")
        assert conn.recv(65536)                   # the transfer has started
        for s in (conn, ftp.sock):                # vanish: reset both connections
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        other = login(srv)
        other.storbinary("STOR after.txt", io.BytesIO(b"still serving"))
        assert other.size("after.txt") == 13
        other.quit()


# --------------------------------------------------------------------------- limits

def test_connections_per_address_are_limited(root):
    with running(root, max_cons_per_ip=2) as srv:
        first, second = raw(srv), raw(srv)
        third = socket.create_connection(srv.address, timeout=5)
        assert read_reply(third) == "421 Too many connections from the same IP address.\r\n"
        other_address = raw(srv, source="127.0.0.2")   # someone else still gets in
        for s in (first, second, third, other_address):
            s.close()


def test_total_connections_are_limited_exactly(root):
    with running(root, max_cons=3, max_cons_per_ip=0) as srv:
        socks = [raw(srv, source=f"127.0.0.{i}") for i in (1, 2, 3)]
        fourth = socket.create_connection(srv.address, timeout=5, source_address=("127.0.0.4", 0))
        assert read_reply(fourth).startswith("421 Too many connections.")
        fourth.close()
        socks.pop().close()
        deadline = time.monotonic() + 10       # the server notices the closed session
        while True:
            s = socket.create_connection(srv.address, timeout=5, source_address=("127.0.0.5", 0))
            reply = read_reply(s)
            if reply.startswith("220 ") or time.monotonic() > deadline:
                break
            s.close()
            time.sleep(0.1)
        assert reply.startswith("220 ")
        for s in (*socks, s):
            s.close()


def test_idle_client_is_dropped_with_421(root):
    with running(root, idle_timeout=1) as srv:
        sock = raw(srv)
        started = time.monotonic()
        assert read_reply(sock, timeout=10) == "421 Control connection timed out.\r\n"
        assert 0.5 < time.monotonic() - started < 8
        assert sock.recv(100) == b""           # and the connection is closed
        sock.close()


# --------------------------------------------------------------------------- data connections

def test_active_and_passive_modes(server):
    for passive in (True, False):
        ftp = login(server)
        ftp.set_pasv(passive)
        ftp.storbinary("STOR mode.bin", io.BytesIO(b"m" * 100_000))
        got = io.BytesIO()
        ftp.retrbinary("RETR mode.bin", got.write)
        assert got.getvalue() == b"m" * 100_000
        assert "mode.bin" in ftp.nlst()
        ftp.quit()


def test_extended_modes_epsv_and_eprt(server):
    ftp = login(server)
    ftp.voidcmd("TYPE I")
    reply = ftp.sendcmd("EPSV")                     # 229 Entering extended passive mode (|||port|).
    port = int(reply.split("|")[3])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as data:
        ftp.sendcmd("NLST")
        names = b""
        while chunk := data.recv(4096):
            names += chunk
    ftp.voidresp()
    assert b"README.txt" in names
    with socket.create_server(("127.0.0.1", 0)) as listener:
        ftp.sendcmd(f"EPRT |1|127.0.0.1|{listener.getsockname()[1]}|")
        ftp.sendcmd("NLST")
        data, _ = listener.accept()
        with data:
            names = data.makefile("rb").read()
    ftp.voidresp()
    assert b"README.txt" in names
    ftp.quit()


def test_passive_ports_stay_in_the_range(root):
    ports = list(range(47001, 47004))
    with running(root, passive_ports=ports) as srv:
        ftp = login(srv)
        for _ in range(5):
            host, port = ftp.makepasv()
            assert port in ports
            socket.create_connection((host, port), timeout=5).close()
            ftp.voidcmd("NOOP")
        ftp.quit()


def test_many_clients_share_a_small_passive_range(root, caplog):
    """Threads picking passive ports at the same moment must not collide (EADDRINUSE on listen)."""
    with running(root, passive_ports=[47011, 47012, 47013]) as srv:
        def client() -> None:
            ftp = login(srv)
            for _ in range(40):
                assert "README.txt" in ftp.nlst()
            ftp.quit()

        assert failures(client, [()] * 12, timeout=60) == []
        assert "Traceback" not in caplog.text


def test_pasv_tells_published_clients_the_published_address(root):
    """Clients from the gateway (here 127.0.0.1) hear the published address; others the server's own."""
    with running(root, published_address="10.9.8.7", published_from={"127.0.0.1"}) as srv:
        published = login(srv, source="127.0.0.1")
        assert published.sendcmd("PASV").startswith("227 Entering passive mode (10,9,8,7,")
        published.quit()
        local = login(srv, source="127.0.0.3")
        assert local.sendcmd("PASV").startswith("227 Entering passive mode (127,0,0,1,")
        assert local.nlst() == ["README.txt"]       # the data connection works as told
        local.quit()


def test_default_gateway_is_read_from_the_route_table(tmp_path):
    table = tmp_path / "route"
    table.write_text("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                     "eth0\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
                     "eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n")
    assert default_gateways(str(table)) == {"172.18.0.1"}
    assert default_gateways(str(tmp_path / "missing")) == set()


# --------------------------------------------------------------------------- FTPS

def test_ftps_explicit_auth_tls_verified(root, tmp_path):
    pki = make_pki(tmp_path / "pki")
    with running(root, certfile=str(pki["cert"]), keyfile=str(pki["key"])) as srv:
        ftp = login(srv, tls_ca=pki["ca"])
        assert isinstance(ftp.sock, ssl.SSLSocket)
        assert ftp.sock.version() in ("TLSv1.2", "TLSv1.3")
        ftp.storbinary("STOR secret.bin", io.BytesIO(b"s" * 50_000))
        conn = ftp.transfercmd("RETR secret.bin")
        assert isinstance(conn, ssl.SSLSocket)      # PROT P: the data connection is encrypted too
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        conn.unwrap()
        conn.close()
        ftp.voidresp()
        assert data == b"s" * 50_000
        ftp.quit()
        # a client that does not trust the lab CA refuses the server
        stranger = ftplib.FTP_TLS(context=ssl.create_default_context(), timeout=5)
        stranger.connect(*srv.address)
        with pytest.raises(ssl.SSLCertVerificationError):
            stranger.auth()
        stranger.close()
        # TLS is optional: a plain session still works
        plain = login(srv)
        assert sorted(plain.nlst()) == ["README.txt", "secret.bin"]
        plain.quit()


def test_tls_handshake_before_the_transfer_command(root, tmp_path):
    """Like curl: connect to the passive port and start TLS at once, then send NLST."""
    pki = make_pki(tmp_path / "pki")
    with running(root, certfile=str(pki["cert"]), keyfile=str(pki["key"])) as srv:
        context = ssl.create_default_context(cafile=str(pki["ca"]))
        ftp = login(srv, tls_ca=pki["ca"])
        port = int(ftp.sendcmd("EPSV").split("|")[3])
        data = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                                   server_hostname="127.0.0.1", do_handshake_on_connect=False)
        handshake = threading.Thread(target=data.do_handshake)
        handshake.start()
        time.sleep(0.2)                         # the handshake is under way before NLST
        assert ftp.sendcmd("NLST").startswith("125 ")    # data connection already open
        handshake.join(5)
        names = b""
        while chunk := data.recv(4096):
            names += chunk
        data.close()
        assert ftp.voidresp().startswith("226 ")
        assert names == b"README.txt\r\n"
        ftp.quit()


def test_without_certificate_auth_tls_is_refused(server):
    ftp = ftplib.FTP_TLS(timeout=5)
    ftp.connect(*server.address)
    with pytest.raises(ftplib.error_perm, match="^500"):
        ftp.auth()
    ftp.close()


# --------------------------------------------------------------------------- HASH

def test_hash_command(server, root):
    ftp = login(server, "anonymous", "x@y")
    feat = ftp.sendcmd("FEAT")
    assert " HASH SHA-256*;SHA-512;SHA-1;MD5" in feat
    data = (root / "public" / "pub" / "README.txt").read_bytes()
    reply = ftp.sendcmd("HASH /pub/README.txt")
    assert reply == f"213 SHA-256 0-{len(data)} {hashlib.sha256(data).hexdigest()} /pub/README.txt"
    assert ftp.sendcmd("OPTS HASH MD5") == "200 MD5"
    assert ftp.sendcmd("HASH /pub/README.txt").split()[3] == hashlib.md5(data).hexdigest()
    assert " HASH SHA-256;SHA-512;SHA-1;MD5*" in ftp.sendcmd("FEAT")
    with pytest.raises(ftplib.error_perm, match="^504"):
        ftp.sendcmd("OPTS HASH CRC32")
    assert ftp.sendcmd("OPTS HASH") == "200 MD5"
    with pytest.raises(ftplib.error_perm, match="^550 .*not a regular file"):
        ftp.sendcmd("HASH /pub/tree")
    with pytest.raises(ftplib.error_perm, match="^550 No such file"):
        ftp.sendcmd("HASH /pub/nothing")
    ftp.quit()


# --------------------------------------------------------------------------- two servers, one process

def test_two_servers_in_one_process_stop_independently(tmp_path):
    with running(tmp_path / "a") as a:
        with running(tmp_path / "b") as b:
            ftp = login(b)
            ftp.quit()
        ftp = login(a)                              # b's shutdown left a serving
        ftp.storbinary("STOR x", io.BytesIO(b"x"))
        ftp.quit()


def test_many_clients_at_once(server):
    def client(i: int) -> None:
        ftp = login(server)
        ftp.storbinary(f"STOR c{i}.txt", io.BytesIO(f"client {i}".encode() * 1000))
        got = io.BytesIO()
        ftp.retrbinary(f"RETR c{i}.txt", got.write)
        assert got.getvalue() == f"client {i}".encode() * 1000
        ftp.quit()

    assert failures(client, [(i,) for i in range(12)], timeout=30) == []


def test_server_options_from_the_command_line(tmp_path, monkeypatch):
    from socklab.services.ftp.server import port_range
    assert port_range("20030-20032") == [20030, 20031, 20032]
    with pytest.raises(Exception):
        port_range("0-3")
    srv = FTPLabServer(("127.0.0.1", 0), root=tmp_path, users={"u": "p"}, anonymous=False)
    try:
        assert not (tmp_path / "public").exists()      # no anonymous area without anonymous
        assert (tmp_path / "home" / "u" / "README.txt").exists()
    finally:
        srv.shutdown()


# --------------------------------------------------------------------------- pyftpdlib version

def test_the_fixes_are_written_for_the_installed_pyftpdlib():
    import pyftpdlib

    from socklab.services.ftp import pyftpdlib_fixes
    assert pyftpdlib.__ver__ == pyftpdlib_fixes.WRITTEN_FOR
    pyftpdlib_fixes.check_version()                 # no error


def test_another_pyftpdlib_version_is_refused_naming_both():
    from socklab.services.ftp.pyftpdlib_fixes import WRITTEN_FOR, PyftpdlibVersionError, check_version
    with pytest.raises(PyftpdlibVersionError) as caught:
        check_version("1.5.10")
    assert "pyftpdlib 1.5.10 is installed" in str(caught.value)
    assert f"pyftpdlib {WRITTEN_FOR}" in str(caught.value)


def test_the_server_does_not_start_on_another_pyftpdlib(root, monkeypatch, capsys):
    import pyftpdlib

    from socklab.services.ftp import server as ftp_module
    monkeypatch.setattr(pyftpdlib, "__ver__", "2.0.0")
    with pytest.raises(ftp_module.PyftpdlibVersionError, match="pyftpdlib 2.0.0 is installed"):
        FTPLabServer(("127.0.0.1", 0), root=root)
    assert not root.exists()                        # refused before touching anything
    with pytest.raises(SystemExit) as exit_:
        ftp_module.main(["--host", "127.0.0.1", "--port", "0", "--root", str(root), "--no-tls"])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("ftp-server: pyftpdlib 2.0.0 is installed") and err.count("\n") == 1
    assert "Traceback" not in err


def test_a_transfer_whose_data_connection_never_came_is_logged_when_the_client_goes(server, root, caplog):
    """``STOR`` and ``RETR`` are answered ``150`` before the server has accepted the data
    connection; a client that goes before it is accepted (here: it never connects it, on a
    busy server it may simply come second) gets the lines of a transfer cut off mid-way --
    and the upload's file is kept, empty, as a cut-off upload is kept."""
    caplog.set_level(logging.INFO)
    for user, password, command in ((USER, PASSWORD, "STOR never.bin"), ("anonymous", "x@y", "RETR /pub/README.txt")):
        sock = raw(server)
        for line in (f"USER {user}", f"PASS {password}", "TYPE I", "PASV", command):
            sock.sendall(line.encode() + b"\r\n")
            reply = read_reply(sock)
        assert reply.startswith("150 "), reply
        sock.close()
    uploaded = root / "home" / USER / "never.bin"
    deadline = time.monotonic() + 10
    while "README.txt ended early" not in caplog.text or "never.bin" not in caplog.text:
        assert time.monotonic() < deadline, caplog.text
        time.sleep(0.02)
    assert f"STOR {uploaded} completed=0 bytes=0" in caplog.text
    assert f"incomplete upload kept (a client may resume it with REST): {uploaded}" in caplog.text
    assert "RETR " in caplog.text and "README.txt completed=0 bytes=0" in caplog.text
    assert uploaded.read_bytes() == b""
    assert not list((root / ".uploads").iterdir())           # settled: nothing for a restart to remove
    assert "Traceback" not in caplog.text
