"""ftp-move across the lab: thousands of files from ftp to ftp-backup, killed mid-way, resumed.

The files are made on ftp's disk, ftp-move runs in the client container like a student's
job would, and at the end both servers' disks are compared with what was made.
"""

from __future__ import annotations

import hashlib
import re

HOME = "/srv/ftp/home/student"
COUNT = 2000            # the interrupted move
SPEED_COUNT = 500       # the one that is timed


def content(i: int) -> bytes:
    return f"record {i:05d} of a bulk move\n".encode() * (1 + i % 40)


MAKE = """
import os, sys
d, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(d, exist_ok=True)
for i in range(n):
    with open(os.path.join(d, f"{prefix}-{i:05d}.dat"), "wb") as f:
        f.write(f"record {i:05d} of a bulk move\\n".encode() * (1 + i % 40))
"""


def make_files(lab, directory: str, prefix: str, count: int) -> None:
    r = lab.exec("ftp", ["python3", "-c", MAKE, f"{HOME}/{directory}", prefix, str(count)])
    assert r.ok, r


def checksums(lab, service: str, directory: str) -> dict[str, str]:
    """name -> sha256 of every file in *directory* of *service*'s student home (dot files too)."""
    r = lab.exec(service, ["sh", "-c", f"cd {HOME}/{directory} 2>/dev/null && find . -maxdepth 1 -type f "
                                        f"-printf '%f\\0' | xargs -0r sha256sum"])
    assert r.ok, r
    return {name: digest for digest, name in (line.split("  ", 1) for line in r.stdout.splitlines())}


def summary(text: str) -> dict[str, float]:
    line = [l for l in text.splitlines() if " moved " in l and l.startswith("ftp-move: ")][-1]
    numbers = {"moved": int(re.search(r"moved (\d+) files", line).group(1)),
               "files_per_s": float(re.search(r"([\d.]+) files/s", line).group(1))}
    for key in ("already there", "resumed", "skipped", "failed"):
        numbers[key.split()[0]] = int(re.search(key + r" (\d+)", line).group(1))
    return numbers


KILL_AT = """
ftp-move -v --source-dir bulk --target-dir bulk 'rec-*.dat' > /tmp/move.log 2>&1 &
pid=$!
for i in $(seq 1 10000); do
    [ "$(grep -c '^moved ' /tmp/move.log)" -ge {n} ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
done
kill -9 $pid
wait $pid
echo "exit $?"
grep -c '^moved ' /tmp/move.log
"""


def test_bulk_move_killed_twice_then_resumed(lab, capsys):
    make_files(lab, "bulk", "rec", COUNT)
    assert lab.exec("ftp", ["sh", "-c", f"echo keep > {HOME}/bulk/readme.txt"]).ok
    expected = {f"rec-{i:05d}.dat": hashlib.sha256(content(i)).hexdigest() for i in range(COUNT)}
    assert checksums(lab, "ftp", "bulk") == {**expected, "readme.txt": hashlib.sha256(b"keep\n").hexdigest()}

    for stop_at in (400, 1200):
        r = lab.exec("client", ["bash", "-c", KILL_AT.replace("{n}", str(stop_at))], timeout=600)
        assert r.ok, r
        status, moved = r.stdout.splitlines()
        assert status == "exit 137", r                            # killed, not finished
        assert stop_at <= int(moved) < COUNT
        # at any stop: every final name on the target holds a whole, verified file ...
        on_target = checksums(lab, "ftp-backup", "bulk")
        finals = {n: d for n, d in on_target.items() if not n.endswith(".ftp-move-part")}
        assert all(expected[n] == d for n, d in finals.items())
        # ... and every file is at the source, at the target, or (briefly) both -- never neither
        at_source = set(checksums(lab, "ftp", "bulk"))
        assert set(expected) <= at_source | set(finals)
    remaining = len(set(expected) & at_source)

    r = lab.exec("client", ["bash", "-c", "ftp-move --source-dir bulk --target-dir bulk 'rec-*.dat'"], timeout=600)
    assert r.ok, r
    last = summary(r.stdout)
    assert last["failed"] == 0 and last["skipped"] == 0
    assert last["moved"] + last["already"] == remaining              # each left file once

    # the two trees: every file exactly once on the target, intact; none left at the source
    assert checksums(lab, "ftp-backup", "bulk") == expected          # no .ftp-move-part left either
    assert set(checksums(lab, "ftp", "bulk")) == {"readme.txt"}

    # and once more: nothing to do, nothing changes
    r = lab.exec("client", ["bash", "-c", "ftp-move --source-dir bulk --target-dir bulk 'rec-*.dat'"])
    assert r.ok and summary(r.stdout)["moved"] == 0, r
    assert checksums(lab, "ftp-backup", "bulk") == expected
    with capsys.disabled():
        print(f"\n  bulk move resumed after two kill -9: {last['moved']} files at {last['files_per_s']} files/s",
              end="")


def test_bulk_move_rate_and_tls(lab, capsys):
    make_files(lab, "speed", "obs", SPEED_COUNT)
    r = lab.exec("client", ["bash", "-c", "ftp-move --source-dir speed --target-dir speed 'obs-*'"], timeout=600)
    assert r.ok, r
    plain = summary(r.stdout)
    assert plain["moved"] == SPEED_COUNT and plain["failed"] == 0
    assert "retry" not in r.stderr, r                     # nothing went wrong on the way
    assert len(checksums(lab, "ftp-backup", "speed")) == SPEED_COUNT

    make_files(lab, "secure", "obs", 100)
    r = lab.exec("client", ["bash", "-c", "ftp-move --tls --trace --source-dir secure --target-dir secure 'obs-*' "
                                          "2>/tmp/tls.trace; grep -c \"AUTH TLS\" /tmp/tls.trace"], timeout=600)
    assert r.ok, r
    secure = summary(r.stdout)
    assert secure["moved"] == 100 and secure["failed"] == 0
    assert int(r.stdout.split()[-1]) >= 2                 # both servers, over TLS
    expected = {f"obs-{i:05d}.dat": hashlib.sha256(content(i)).hexdigest() for i in range(100)}
    assert checksums(lab, "ftp-backup", "secure") == expected

    for service in ("ftp", "ftp-backup"):
        assert "Traceback" not in lab.logs(service)

    # the seeded outbox of the ftp host, moved the way its README says
    r = lab.exec("client", ["bash", "-c", "ftp-move 'obs-*.dat' --source-dir outbox --target-dir inbox"])
    assert r.ok and summary(r.stdout)["moved"] == 300, r
    assert sorted(checksums(lab, "ftp", "outbox")) == ["notes.txt", "obs-summary.csv"]
    with capsys.disabled():
        print(f"\n  bulk move of {SPEED_COUNT} small files ftp -> ftp-backup: {plain['files_per_s']} files/s "
              f"(4 connections each way); over TLS: {secure['files_per_s']} files/s", end="")


def test_bulk_move_errors_are_one_line(lab):
    r = lab.exec("client", ["bash", "-c", "ftp-move --source-dir no-such-dir 'x*'"])
    assert r.exit_code == 1
    assert r.stderr == "ftp-move: directory no-such-dir: 550 No such file or directory.\n"
    r = lab.exec("client", ["bash", "-c", "ftp-move --target no-such-host 'x*'"])
    assert r.exit_code == 1 and "unknown host" in r.stderr and "Traceback" not in r.stderr
    r = lab.exec("client", ["bash", "-c", "ftp-move -p wrong 'x*'"])
    assert r.exit_code == 1 and "530" in r.stderr and r.stderr.count("\n") == 1

