"""Writing files so that a crash never leaves half of one: what the servers that store things share."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make the names in directory *path* durable (new, renamed or removed files)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace *path* with *data* so that a crash leaves the old file or the new one, whole.

    The data goes to a temporary name first and is fsync-ed; ``os.replace`` then swaps the
    names in one step, and fsync-ing the directory makes the swap itself durable.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
