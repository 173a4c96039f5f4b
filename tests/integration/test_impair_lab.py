"""`make impair` / `make heal` on real lab hosts: measured loss, measured rate, healing, and a
server that holds no capability before, during or after (the helper container has it).

The impairments are applied with tools/impair.py's functions to the test lab's containers,
exactly as ``make impair`` applies them to a ``make lab`` lab's.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import uuid

import pytest

from labharness import ROOT

# Round trips to the UDP timestamp server, from the client host: up to 16 datagrams in flight,
# each answered or given up after TIMEOUT seconds; the whole run stops after 60 s anyway.
# Replies are matched to their datagram by its text ("[ctime] rt 17" answers "rt 17").
ROUND_TRIPS = r"""
import json, select, socket, sys, time
host, port, count, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][4]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setblocking(False)
pending, answered, sent, start = {}, 0, 0, time.monotonic()
while (sent < count or pending) and time.monotonic() - start < 60:
    now = time.monotonic()
    for key in [k for k, t in pending.items() if now - t > timeout]:
        del pending[key]
    while sent < count and len(pending) < 16:
        key = b"rt %d" % sent
        sock.sendto(key, addr)
        pending[key] = time.monotonic()
        sent += 1
    if select.select([sock], [], [], 0.01)[0]:
        while True:
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                break
            if pending.pop(data.rsplit(b"] ", 1)[-1].strip(), None) is not None:
                answered += 1
print(json.dumps({"sent": sent, "answered": answered, "seconds": time.monotonic() - start}))
"""

# One upload and one download of SIZE random bytes with ftplib, each timed from the command
# to the server's 226 (the upload crosses the ftp host's incoming side, the download its outgoing).
FTP_TRANSFER = r"""
import ftplib, io, json, os, sys, time
size = int(sys.argv[1])
data = os.urandom(size)
with ftplib.FTP("ftp", timeout=60) as ftp:
    ftp.login(os.environ["FTP_USER"], os.environ["FTP_PASSWORD"])
    start = time.monotonic()
    ftp.storbinary("STOR impair-probe.bin", io.BytesIO(data))
    upload = time.monotonic() - start
    got = bytearray()
    start = time.monotonic()
    ftp.retrbinary("RETR impair-probe.bin", got.extend)
    download = time.monotonic() - start
    ftp.delete("impair-probe.bin")
print(json.dumps({"upload": upload, "download": download, "same": bytes(got) == data}))
"""


@pytest.fixture(scope="module")
def impair(lab):
    from tools import impair
    return impair


def cid(lab, host: str) -> str:
    return lab.container(host).id


def round_trips(lab, count: int, timeout: float = 0.2) -> dict:
    res = lab.exec("client", ["python3", "-c", ROUND_TRIPS, "udp-server", "8888", str(count), str(timeout)],
                   timeout=90)
    assert res.ok, res
    result = json.loads(res.stdout)
    assert result["sent"] == count, result         # every datagram was sent within the time limit
    return result


def assert_no_capabilities(lab, host: str) -> None:
    c = lab.container(host)
    c.reload()
    assert not c.attrs["HostConfig"]["CapAdd"], c.attrs["HostConfig"]["CapAdd"]
    assert c.attrs["HostConfig"]["CapDrop"] == ["ALL"]
    status = lab.exec(host, ["grep", "^Cap", "/proc/1/status"])
    assert status.ok, status
    caps = dict(line.split(":\t") for line in status.stdout.splitlines())
    assert caps["CapEff"] == caps["CapPrm"] == caps["CapBnd"] == "0000000000000000", status.stdout


def no_helper_left(lab, host: str) -> bool:
    left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=socklab.impair-helper={cid(lab, host)}"],
                          capture_output=True, text=True, check=True).stdout.split()
    return not left


def test_30_percent_loss_each_way_is_measured_and_healed(lab, impair):
    image = lab.tools.LAB_IMAGE
    server = cid(lab, "udp-server")
    assert_no_capabilities(lab, "udp-server")
    clean = round_trips(lab, 200)
    assert clean["answered"] == 200, clean          # the lab's own link loses nothing

    impair.apply(server, image, impair.from_settings({"LOSS": "30%"}))
    try:
        assert_no_capabilities(lab, "udp-server")
        status = impair.read(server, image)
        assert status.impairment == impair.Impairment(loss=30.0)

        # A round trip needs the request to get in (70 %) and the reply to get out (70 %),
        # each dropped independently: it succeeds with p = 0.7 * 0.7 = 0.49.  Over n = 1000
        # round trips the count answered is binomial: mean n*p = 490, standard deviation
        # sqrt(n*p*(1-p)) = 15.8.  Five standard deviations either side, [411, 569], holds
        # with probability 1 - 6e-7 when the loss is right, and excludes what a mistake
        # would give: no loss (1000), loss one way only (700), 30 % per round trip (700).
        n, p = 1000, 0.7 * 0.7
        sigma = math.sqrt(n * p * (1 - p))
        low, high = math.ceil(n * p - 5 * sigma), math.floor(n * p + 5 * sigma)
        assert (low, high) == (411, 569)
        lossy = round_trips(lab, n)
        assert low <= lossy["answered"] <= high, lossy

        # both directions dropped packets, and the table counted them
        status = impair.read(server, image)
        assert status.dropped_in > 0 and status.dropped_out > 0, status
        assert status.dropped_in + status.dropped_out >= n - lossy["answered"]
    finally:
        impair.heal(server, image)

    assert not impair.read(server, image).impairment
    healed = round_trips(lab, 200)
    assert healed["answered"] == 200, healed
    assert_no_capabilities(lab, "udp-server")
    assert no_helper_left(lab, "udp-server")


def test_a_rate_limit_slows_transfers_both_ways(lab, impair):
    image = lab.tools.LAB_IMAGE
    ftp = cid(lab, "ftp")
    size = 384 * 1024
    rate = 10**6                                    # RATE=1mbit
    # a token bucket lets through at most its burst (4 KiB here) plus rate * t bytes in t
    # seconds, so SIZE bytes (plus TCP/IP headers) take at least (SIZE - burst) * 8 / rate
    least = (size - 4096) * 8 / rate                # 3.1 s

    def transfer() -> dict:
        res = lab.exec("client", ["python3", "-c", FTP_TRANSFER, str(size)], timeout=120)
        assert res.ok, res
        result = json.loads(res.stdout)
        assert result["same"], result
        return result

    fast = transfer()
    assert fast["upload"] < least / 4 and fast["download"] < least / 4, fast

    impair.apply(ftp, image, impair.from_settings({"RATE": "1mbit"}))
    try:
        assert_no_capabilities(lab, "ftp")
        assert impair.read(ftp, image).impairment == impair.Impairment(rate=rate)
        slow = transfer()
        # shaped both ways: never faster than the rate, and not much slower (queued, not lost)
        assert least <= slow["download"] < 4 * least, slow
        assert least <= slow["upload"] < 4 * least, slow
    finally:
        impair.heal(ftp, image)
    again = transfer()
    assert again["upload"] < least / 4 and again["download"] < least / 4, again
    assert_no_capabilities(lab, "ftp")
    assert no_helper_left(lab, "ftp")


def test_delay_needs_netem_and_changes_nothing_without_it(lab, impair):
    image = lab.tools.LAB_IMAGE
    server = cid(lab, "udp-server")
    impair.apply(server, image, impair.from_settings({"LOSS": "10%"}))
    try:
        try:
            impair.apply(server, image, impair.from_settings({"DELAY": "100ms"}))
        except impair.ImpairError as exc:
            # this kernel (no netem): one line, and what was in effect stays as it was
            assert "cannot delay packets" in str(exc) and "\n" not in str(exc)
            assert impair.read(server, image).impairment == impair.Impairment(loss=10.0)
        else:
            # a kernel with netem: 100 ms each way is read back, and a round trip takes 200 ms or more
            assert impair.read(server, image).impairment == impair.Impairment(delay=100.0)
            slow = round_trips(lab, 20, timeout=2.0)
            assert slow["answered"] == 20 and slow["seconds"] >= 20 * 0.2 / 16, slow
    finally:
        impair.heal(server, image)
    assert not impair.read(server, image).impairment


def test_the_lab_map_marks_impaired_hosts_from_what_the_host_says(lab, impair, tmp_path):
    image = lab.tools.LAB_IMAGE
    running = []
    for host in ("udp-server", "tcp-server", "ftp"):
        c = lab.container(host)
        c.reload()
        running.append(c.attrs)
    assert impair.in_effect("t", running, image, tmp_path) == {}
    impair.apply(cid(lab, "udp-server"), image, impair.from_settings({"LOSS": "30%", "RATE": "1mbit"}))
    try:
        impair.remember("t", "udp-server", running[0], impair.Impairment(loss=30.0, rate=10**6), tmp_path)
        # the state file also names tcp-server, which is not impaired: read back, it is dropped
        impair.remember("t", "tcp-server", running[1], impair.Impairment(loss=5.0), tmp_path)
        found = impair.in_effect("t", running, image, tmp_path)
        assert list(found) == ["udp-server"]
        assert found["udp-server"].describe() == "loss 30%, rate 1mbit"
        assert impair.map_line(found["udp-server"]) == impair._("impaired: {what}").format(what="loss 30%, rate 1mbit")
        assert list(impair.load_state("t", tmp_path)) == ["udp-server"]
    finally:
        impair.heal(cid(lab, "udp-server"), image)
    # healed behind the state file's back: the map believes the host, not the file
    assert impair.in_effect("t", running, image, tmp_path) == {}


@pytest.mark.parametrize("args, first_words", [
    (["HOST=udp-server", "LOSS=150%"], "socklab: LOSS=150%: give a percentage from 0 to 100"),
    (["HOST=udp-server", "RATE=fast"], "socklab: RATE=fast: give a rate"),
    (["HOST=nosuch", "LOSS=30%"], "socklab: HOST=nosuch: no such host in this lab; the hosts are: client, "),
])
def test_bad_input_is_one_line_and_exit_status_1(args, first_words):
    env = {**os.environ, "LAB": f"impair-{uuid.uuid4().hex[:8]}", "SOCKLAB_LANG": "en"}
    for key in ("HOST", "LOSS", "RATE", "DELAY", "JITTER"):
        env.pop(key, None)
    run = subprocess.run([sys.executable, "-m", "tools.lab", "impair", *args],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert run.returncode == 1, run
    assert run.stdout == ""
    assert len(run.stderr.splitlines()) == 1 and run.stderr.startswith(first_words), run.stderr
