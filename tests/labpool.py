"""The labs of one test run, shared by its test files: each file borrows one lab for its tests.

``make test`` runs test files in several processes at once (pytest-xdist).  A lab used to be
started by every process that ran a test using ``lab``, and stayed until that process
ended -- six labs for six processes, although at most three or four files use one at the
same moment.  Starting a lab costs several seconds of CPU (eleven containers, their
networks, ports and readiness probes), and the machine's CPU is what bounds the run.

So the labs are a pool, kept in a folder the processes of a run share
(``SOCKLAB_TEST_LABPOOL``, made by the first process: see tests/conftest.py):

* a file that uses ``lab`` borrows a free lab for all its tests (:meth:`LabPool.lease`) and
  gives it back at its end -- one file at a time per lab, as one process used to run one
  file after the other on its lab.  A lab that comes back with a host not running (a
  test that stopped one failed before starting it again) is brought up again, as
  ``make lab`` does, before the next file gets it;
* when no lab is free, a new one is started, up to :attr:`LabPool.size` labs; beyond that
  the file waits until another gives one back;
* at the end of the run the first process removes every lab of the pool
  (:meth:`LabPool.close_all`), after every other process has ended.

The pool's state is one JSON file, changed under a lock (``fcntl.flock``) and read without
one (it is replaced whole): for each lab its port block, workspace folder and who holds it
(a process id; a lab held by a process that is gone is free again).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Iterator

from labharness import Lab
from tools import ports

ENV = "SOCKLAB_TEST_LABPOOL"            # the folder of this run's pool
SIZE_ENV = "SOCKLAB_TEST_LABS"          # at most this many labs at once (default: DEFAULT_SIZE)
DEFAULT_SIZE = 3
WAIT = 30 * 60.0                        # seconds a file waits for a lab before it fails


class LabPool:
    """The labs of one test run, in *folder*; at most *size* of them."""

    def __init__(self, folder: Path, size: int = DEFAULT_SIZE) -> None:
        self.folder, self.size = Path(folder), max(1, size)
        self.state_file = self.folder / "labs.json"

    @classmethod
    def of_this_run(cls) -> "LabPool":
        """The pool that tests/conftest.py made for this run (``SOCKLAB_TEST_LABPOOL``)."""
        folder = os.environ.get(ENV)
        if not folder:
            raise RuntimeError(f"{ENV} is not set: tests/conftest.py makes the run's lab pool")
        return cls(Path(folder), int(os.environ.get(SIZE_ENV) or DEFAULT_SIZE))

    # -- borrowing

    @contextlib.contextmanager
    def lease(self) -> Iterator[Lab]:
        """A lab of the pool for the duration of the ``with``, for this process alone."""
        name = self._take()
        try:
            entry = self._read()[name]
            lab = _lab(name, entry)
            if lab.running() != set(entry["hosts"]):
                lab.up()
            yield lab
        finally:
            with self._state() as labs:
                if name in labs:
                    labs[name]["holder"] = None

    def _take(self) -> str:
        """The name of a lab now held by this process: a free one, else a new one, else wait."""
        me, deadline = os.getpid(), time.monotonic() + WAIT
        while True:
            with self._state() as labs:
                for name, lab in labs.items():
                    if lab["holder"] is None or not _alive(lab["holder"]):
                        lab["holder"] = me
                        if lab["up"]:
                            return name
                        break               # left half-started by a process that is gone
                else:
                    if len(labs) < self.size:
                        name = f"t{uuid.uuid4().hex[:8]}"
                        workspace = self.folder / name
                        workspace.mkdir()
                        labs[name] = {"holder": me, "up": False, "prefix": ports.free_port_prefix(),
                                      "workspace": str(workspace)}
                    else:
                        name = None
                entry = labs.get(name)
            if name is not None:
                return self._start(name, entry)
            if time.monotonic() > deadline:
                raise RuntimeError(f"no lab of the pool {self.folder} was free for {WAIT:.0f} s")
            time.sleep(0.25)

    def _start(self, name: str, entry: dict) -> str:
        lab = _lab(name, entry)
        try:
            lab.up()
        except BaseException:
            with self._state() as labs:
                labs.pop(name, None)
            with contextlib.suppress(Exception):
                lab.close()
            raise
        with self._state() as labs:
            labs[name]["up"], labs[name]["hosts"] = True, sorted(lab.running())
        return name

    # -- the end of the run

    def close_all(self) -> None:
        """Remove every lab of the pool (side by side) and the pool's folder."""
        labs = self._read()
        if labs:
            with concurrent.futures.ThreadPoolExecutor(len(labs)) as run:
                list(run.map(lambda item: _lab(*item).close(), labs.items()))
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- the state file

    def _read(self) -> dict:
        """``{name: {"holder", "up", "hosts", "prefix", "workspace"}}`` as it is now (the file
        is replaced whole, never written in place: no lock needed to read it)."""
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {}

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict]:
        """The state (see :meth:`_read`) under the pool's lock, to change; written back after."""
        with open(self.folder / "labs.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            labs = self._read()
            yield labs
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(labs))
            tmp.replace(self.state_file)


def _lab(name: str, entry: dict) -> Lab:
    """The pool's lab *name*, as its state *entry* describes it."""
    return Lab(name, port_prefix=entry["prefix"], workspace=Path(entry["workspace"]))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
