"""What ``make bench`` and ``make chaos`` share: commands, progress, and one way to fail a figure.

Both tools measure many things in a row against a private lab, and a measurement can fail
-- a server does not answer, a load container times out -- without the rest becoming
meaningless.  :func:`attempt` owns that shape, once: it runs one measurement, and when it
fails with one of the expected errors it hands a one-line reason to the caller's recorder
(the bench marks the figures failed, the chaos campaign adds a failed check) and returns
``None``, so the run goes on.  Anything unexpected still stops the tool.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class ToolError(Exception):
    """The tool cannot go on (an image does not build, the lab does not start, ...)."""


class MeasureError(Exception):
    """One measurement failed; what it was measuring is marked failed and the tool goes on."""


class Progress:
    """Progress lines on stderr, ``name [mm:ss] message``, timed from the tool's start."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.t0 = time.monotonic()

    def __call__(self, msg: str) -> None:
        t = int(time.monotonic() - self.t0)
        print(f"{self.name} [{t // 60:02d}:{t % 60:02d}] {msg}", file=sys.stderr, flush=True)


def sh(cmd: list[str], *, check: bool = True, timeout: float = 600, error: type[Exception] = ToolError,
       **kw) -> subprocess.CompletedProcess:
    """Run *cmd*, capturing its output; raise *error* with the end of it if it fails and *check*."""
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and res.returncode != 0:
        raise error(f"`{' '.join(map(str, cmd))}` failed (exit {res.returncode}):\n"
                    f"{res.stdout[-2000:]}{res.stderr[-2000:]}")
    return res


def attempt(measure: Callable[[], T], failed: Callable[[str], None],
            errors: tuple[type[BaseException], ...] = (MeasureError,)) -> T | None:
    """``measure()``; if it raises one of *errors*, ``failed(why)`` and ``None``.

    *why* is the error's text; *failed* decides where it is recorded.
    """
    try:
        return measure()
    except errors as exc:
        failed(str(exc) or type(exc).__name__)
        return None
