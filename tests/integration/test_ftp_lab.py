"""The FTP hosts on the lab network: ftp-client in the client container against ftp and ftp-backup.

Each test runs what a student would type on the client host and checks what they would see,
sometimes looking at the server's files directly (``lab.exec("ftp", ...)``) to be sure.
"""

from __future__ import annotations

import ftplib
import hashlib
import re
import socket
import textwrap

import pytest

HOME = "/srv/ftp/home/student"


def sh(lab, script: str, service: str = "client", timeout: float = 120):
    return lab.exec(service, ["bash", "-c", script], timeout=timeout)


def py(lab, code: str, service: str = "client", timeout: float = 120):
    return lab.exec(service, ["python3", "-c", textwrap.dedent(code)], timeout=timeout)


@pytest.mark.parametrize("mode", ["--passive", "--active"])
def test_every_ftplib_operation_in_both_modes(lab, mode):
    d = f"ops{mode.strip('-')}"
    script = f"""
    set -e
    cd /tmp && printf 'line one\\nline two\\n' > notes.txt && head -c 200000 /dev/urandom > blob.bin
    c="ftp-client -u student {mode}"
    $c mkdir {d}                                  # mkd
    $c --cd {d} put blob.bin                      # storbinary
    $c --cd {d} put --text notes.txt              # storlines
    $c --cd {d} pwd                               # cwd + pwd
    $c ls {d}                                     # dir
    $c nlst {d}                                   # nlst
    $c cat {d}/notes.txt                          # retrlines
    $c get {d}/blob.bin back.bin                  # retrbinary
    cmp blob.bin back.bin && echo SAME
    $c mv {d}/notes.txt {d}/renamed.txt           # rename
    $c size {d}/renamed.txt
    $c rm {d}/renamed.txt                         # delete
    $c rm {d}/blob.bin
    $c rmdir {d}                                  # rmd
    $c --trace nlst 2>&1 >/dev/null | grep -E "^\\*cmd\\* '(PASV|PORT|EPSV|EPRT|QUIT)" || true
    """
    r = sh(lab, script)
    assert r.ok, r
    out = r.stdout
    assert f"/{d}\n" in out                                   # mkd and pwd
    assert re.search(r"^-.* blob\.bin$", out, re.M)           # dir: long form
    assert "blob.bin\nnotes.txt\n" in out                     # nlst: names only
    assert "line one\nline two\n" in out                      # retrlines
    assert "SAME" in out                                      # retrbinary gave the bytes back
    assert "18\n" in out                                      # size of the renamed text file
    data_command = "PORT" if mode == "--active" else "PASV"
    assert f"*cmd* '{data_command}" in out and "*cmd* 'QUIT'" in out
    listing = lab.exec("ftp", ["ls", "-a", HOME])
    assert d not in listing.stdout                            # rmd removed it


def test_anonymous_reads_pub_and_cannot_write(lab):
    r = sh(lab, "ftp-client ls /pub && ftp-client cat /pub/tree/docs/protocols/ftp.txt | head -1")
    assert r.ok, r
    for name in ("README.txt", "binary", "large", "tree"):
        assert re.search(rf" {name}$", r.stdout, re.M)
    assert "An FTP session, step by step" in r.stdout
    for attempt in ("put /etc/hostname /pub/x", "mkdir /pub/x", "rm /pub/README.txt",
                    "mv /pub/README.txt /pub/y", "rmdir /pub/tree"):
        r = sh(lab, f"ftp-client {attempt}")
        assert r.exit_code == 1, r
        assert r.stderr.endswith("550 Not enough privileges.\n") and r.stderr.count("\n") == 1, r
    assert "x" not in lab.exec("ftp", ["ls", "/srv/ftp/public/pub"]).stdout.split()


def test_ftps_is_verified_with_the_lab_ca(lab):
    r = sh(lab, "ftp-client --tls --trace -u student put /etc/hostname tls-upload.txt")
    assert r.ok, r
    assert r.stderr.index("*cmd* 'AUTH TLS'") < r.stderr.index("*cmd* 'USER student'")
    assert "*cmd* 'PROT P'" in r.stderr
    assert lab.exec("ftp", ["test", "-f", f"{HOME}/tls-upload.txt"]).ok
    # another client, curl, verifies the same certificate with the system's trust store
    r = sh(lab, "curl -sS --ssl-reqd ftp://ftp-backup/pub/tree/README.txt")
    assert r.ok and r.stdout.startswith("A small tree"), r
    # by IP address the name in the certificate does not match: refused, in one line
    r = sh(lab, "ftp-client --tls --host $(getent hosts ftp | cut -d' ' -f1) pwd")
    assert r.exit_code == 1
    assert "certificate" in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_path_escapes_are_refused(lab):
    assert lab.exec("ftp", ["sh", "-c", f"ln -sfn /etc/passwd {HOME}/passwd-link && ln -sfn /etc {HOME}/etc-link"]).ok
    checks = {
        "get ../../../../etc/passwd": "550",
        "get /etc/passwd": "550",
        "get passwd-link": "outside the user's root directory",
        "cd etc-link": "outside the user's root directory",
        "put /etc/hostname passwd-link": "outside the user's root directory",
        "hash passwd-link": "550",
    }
    for command, expected in checks.items():
        r = sh(lab, f"cd /tmp && ftp-client -u student {command}")
        assert r.exit_code == 1 and expected in r.stderr, (command, r)
    r = sh(lab, "ftp-client -u student cd ../../..")
    assert r.ok and r.stdout == "/\n", r
    assert lab.exec("ftp", ["head", "-c", "5", "/etc/passwd"]).stdout == "root:"   # untouched
    lab.exec("ftp", ["rm", "-f", f"{HOME}/passwd-link", f"{HOME}/etc-link"])


def test_large_file_checksum_after_get_and_put(lab, capsys):
    r = sh(lab, """
    set -e
    cd /tmp
    ftp-client get --verify /pub/large/random-8MiB.bin
    ftp-client get /pub/large/random-8MiB.bin.sha256
    sha256sum -c random-8MiB.bin.sha256
    head -c 100000000 /dev/urandom > big100.bin
    sha256sum big100.bin
    ftp-client -u student put --verify big100.bin        # STOR, 100 MB
    ftp-client -u student get --verify big100.bin back100.bin   # RETR, 100 MB
    sha256sum back100.bin
    rm -f big100.bin back100.bin random-8MiB.bin*
    """, timeout=300)
    assert r.ok, r
    assert "random-8MiB.bin: OK" in r.stdout
    sums = re.findall(r"^([0-9a-f]{64})  (big100|back100)\.bin$", r.stdout, re.M)
    assert len(sums) == 2 and sums[0][0] == sums[1][0]
    on_server = lab.exec("ftp", ["sha256sum", f"{HOME}/big100.bin"]).stdout.split()[0]
    assert on_server == sums[0][0]
    rates = re.findall(r"^(\S+) -> (\S+): 100000000 bytes in ([\d.]+) s \(([\d.]+) MB/s\)", r.stdout, re.M)
    assert len(rates) == 2
    with capsys.disabled():                          # the figures, for whoever runs the tests
        for _, dst, secs, mbs in rates:
            print(f"\n  100 MB {'RETR' if dst == 'back100.bin' else 'STOR'} client <-> ftp: {secs} s, {mbs} MB/s",
                  end="")
    lab.exec("ftp", ["rm", "-f", f"{HOME}/big100.bin"])


def test_bad_input_gets_clear_replies_and_the_server_keeps_serving(lab):
    r = py(lab, r"""
    import ftplib, os, socket, time

    def reply(f):
        return f.readline().decode().rstrip()

    s = socket.create_connection(("ftp", 21), timeout=10)
    f = s.makefile("rb")
    assert reply(f).startswith("220 ")
    s.sendall(b"FROB\r\n"); print("unknown:", reply(f))
    s.sendall(b"USER " + b"x" * 10240 + b"\r\n"); print("10kB:", reply(f))
    s.sendall(b"NOOP\r\n"); print("after:", reply(f))
    s.close()

    # a client that vanishes in the middle of a download
    ftp = ftplib.FTP("ftp", timeout=10); ftp.login(); ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR /pub/large/random-8MiB.bin")
    conn.recv(65536)
    for sock in (conn, ftp.sock):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        sock.close()
    # an upload cut off half-way
    up = ftplib.FTP("ftp", timeout=10); up.login("student", os.environ["FTP_PASSWORD"]); up.voidcmd("TYPE I")
    conn = up.transfercmd("STOR cut-off.bin")
    conn.sendall(b"x" * 300000)
    # cut off half-way: once the server is writing the file (seen from a second session)
    watch = ftplib.FTP("ftp", timeout=10); watch.login("student", os.environ["FTP_PASSWORD"])
    watch.voidcmd("TYPE I")
    deadline = time.monotonic() + 30
    while not watch.size("cut-off.bin") and time.monotonic() < deadline:
        time.sleep(0.05)
    watch.quit()
    for sock in (conn, up.sock):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        sock.close()
    other = ftplib.FTP("ftp", timeout=10); other.login()
    print("others:", other.nlst("/pub"))
    other.quit()
    """)
    assert r.ok, r
    assert 'unknown: 500 Command "FROB" not understood.' in r.stdout
    assert "10kB: 500 Command line too long (more than 2048 bytes); ignored." in r.stdout
    assert "after: 200 " in r.stdout
    assert "others: ['README.txt', 'binary', 'large', 'tree']" in r.stdout
    # each session has a thread of its own: the two cut-off ones may log after the others
    logs = lab.wait_logged("ftp", "random-8MiB.bin ended early", f"STOR {HOME}/cut-off.bin")
    assert "random-8MiB.bin ended early" in logs
    assert f"STOR {HOME}/cut-off.bin" in logs
    assert "Traceback" not in logs
    # In stream mode the end of the data connection is the end of the file: the server
    # cannot tell a cut-off upload from a short one.  It keeps what came, under the name
    # the client gave -- which is why ftp-move uploads to a temporary name and verifies.
    size = int(lab.exec("ftp", ["stat", "-c", "%s", f"{HOME}/cut-off.bin"]).stdout)
    assert 0 < size <= 300000
    r = sh(lab, "ftp-client -u student rm cut-off.bin && ftp-client ls /pub/tree")   # still serving
    assert r.ok, r


def test_connections_per_address_are_limited(lab):
    r = py(lab, """
    import socket
    socks, replies = [], []
    for i in range(17):
        s = socket.create_connection(("ftp-backup", 21), timeout=10)
        socks.append(s)
        replies.append(s.makefile("rb").readline().decode().rstrip())
    print(replies[0]); print(replies[15]); print(replies[16])
    """)
    assert r.ok, r
    first, sixteenth, seventeenth = r.stdout.splitlines()
    assert first.startswith("220 ") and sixteenth.startswith("220 ")
    assert seventeenth == "421 Too many connections from the same IP address."


def test_passive_mode_from_the_host_through_published_ports(lab):
    """On the host, PASV must name 127.0.0.1 and a published port; in the lab, the server itself."""
    for service in ("ftp", "ftp-backup"):
        ftp = ftplib.FTP(timeout=10)
        ftp.trust_server_pasv_ipv4_address = True        # use the PASV address, as curl and ftp do
        ftp.connect("127.0.0.1", lab.host_port(service, 21))
        ftp.login()
        reply = ftp.sendcmd("PASV")
        address = re.search(r"\((\d+,\d+,\d+,\d+),(\d+),(\d+)\)", reply)
        assert address.group(1) == "127,0,0,1", reply
        port = int(address.group(2)) * 256 + int(address.group(3))
        assert lab.host_port(service, port) == port          # published one to one
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        ftp.voidcmd("NOOP")
        assert sorted(ftp.nlst("/pub")) == ["README.txt", "binary", "large", "tree"]
        digest = hashlib.sha256()
        ftp.retrbinary("RETR /pub/binary/bytes-0-255.bin", digest.update)
        assert digest.digest() == hashlib.sha256(bytes(range(256)) * 4).digest()
        ftp.quit()
    # inside the lab, a client that believes the PASV address (curl without EPSV) gets the server's
    r = sh(lab, "curl -sS --disable-epsv -v ftp://ftp/pub/ 2>&1")
    assert r.ok, r
    ip = sh(lab, "getent hosts ftp | cut -d' ' -f1").stdout.strip()
    assert f"Entering passive mode ({ip.replace('.', ',')}," in r.stdout
    assert " tree" in r.stdout


def test_files_survive_a_restart(lab):
    assert sh(lab, "ftp-client -u student mkdir keep && ftp-client -u student put /etc/hostname keep/h.txt").ok
    lab.restart("ftp")
    r = sh(lab, "ftp-client -u student nlst keep && ftp-client nlst /pub/large")
    assert r.ok, r
    assert r.stdout.split() == ["h.txt", "random-8MiB.bin", "random-8MiB.bin.sha256"]
    assert sh(lab, "ftp-client -u student rm keep/h.txt && ftp-client -u student rmdir keep").ok


def test_the_classic_ftp_program_in_both_modes(lab):
    r = sh(lab, "cd /tmp && printf 'user anonymous guest@lab.test\\nbinary\\nget /pub/binary/bytes-0-255.bin a.bin\\n"
                "passive\\nget /pub/binary/bytes-0-255.bin p.bin\\nquit\\n' | ftp -n -v ftp && cmp a.bin p.bin && "
                "stat -c %s a.bin")
    assert r.ok, r
    assert "Entering extended passive mode" in r.stdout or "Entering passive mode" in r.stdout
    assert "Active data connection established" in r.stdout or "PORT command successful" in r.stdout
    assert r.stdout.rstrip().endswith("1024")
