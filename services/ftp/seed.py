"""The files an FTP host starts with.

The server's root directory (a named volume in the lab, ``/srv/ftp``) is laid out as::

    public/               what ``anonymous`` sees as "/"  (read-only over FTP)
        pub/              sample files: text, binary, a nested tree, one large file
    home/<user>/          each account's home, where it may do anything

:func:`prepare` fills in whatever is missing and never overwrites: a restarted server
finds its files as it left them, and a fresh volume gets everything.  The large file is
not part of the source tree; it is made here, on the first start, from a fixed seed, so
every lab has the same bytes and ships a checksum file next to them.
"""

from __future__ import annotations

import hashlib
import random
import shutil
from pathlib import Path

from socklab.files import write_atomically

SEED = Path(__file__).resolve().with_name("seed")

LARGE_NAME = "random-8MiB.bin"
LARGE_SIZE = 8 * 1024 * 1024
LARGE_SEED = 959            # RFC 959 is FTP: any fixed number gives the same file everywhere


def copy_missing(source: Path, target: Path) -> int:
    """Copy the files under *source* that are missing under *target*; return how many."""
    copied = 0
    for src in sorted(source.rglob("*")):
        dst = target / src.relative_to(source)
        if src.is_dir():
            dst.mkdir(parents=True, exist_ok=True)
        elif not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            copied += 1
    return copied


def make_large_file(directory: Path, name: str = LARGE_NAME, size: int = LARGE_SIZE) -> Path:
    """Make ``name`` (*size* pseudo-random bytes) and ``name.sha256`` unless both exist."""
    directory.mkdir(parents=True, exist_ok=True)
    path, checksum = directory / name, directory / f"{name}.sha256"
    if path.exists() and path.stat().st_size == size and checksum.exists():
        return path
    data = random.Random(LARGE_SEED).randbytes(size)
    write_atomically(path, data)
    # the format of sha256sum, so `sha256sum -c random-8MiB.bin.sha256` checks a download
    write_atomically(checksum, f"{hashlib.sha256(data).hexdigest()}  {name}\n".encode())
    return path


def make_outbox(directory: Path, count: int) -> None:
    """*count* small data files named by a convention, the bulk move's raw material.

    ``obs-20160901-0001.dat`` ... one reading per file, plus two files that do not follow
    the convention (so a pattern has something to leave behind).
    """
    directory.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(count)
    for i in range(1, count + 1):
        day = 1 + (i - 1) // 100
        text = f"station=lab-01 seq={i} day=2016-09-{day:02d} temperature_c={rnd.uniform(18, 31):.1f}\n"
        (directory / f"obs-201609{day:02d}-{i:04d}.dat").write_text(text)
    (directory / "notes.txt").write_text("Not a data file: the pattern obs-*.dat leaves it here.\n")
    (directory / "obs-summary.csv").write_text("day,files\n2016-09-01,100\n")


def prepare(root: Path, users: list[str], *, anonymous: bool = True, outbox: int = 0) -> dict[str, Path]:
    """Make the layout under *root*; return the home directory of every account.

    ``anonymous`` gets ``root/public``; every name in *users* gets ``root/home/<name>``,
    which on its first creation receives a README and, if *outbox* is not 0, an
    ``outbox/`` of that many data files.
    """
    homes: dict[str, Path] = {}
    if anonymous:
        public = root / "public"
        copy_missing(SEED / "pub", public / "pub")
        make_large_file(public / "pub" / "large")
        homes["anonymous"] = public
    for user in users:
        home = root / "home" / user
        if not home.exists():
            home.mkdir(parents=True)
            copy_missing(SEED / "home", home)
            if outbox:
                make_outbox(home / "outbox", outbox)
        homes[user] = home
    return homes
