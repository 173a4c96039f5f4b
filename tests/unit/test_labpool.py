"""tests/labpool.py: the labs of a test run, one borrower at a time each, never more than the pool's size.

The labs here are stand-ins that only count their starts and ends (starting real ones is
the integration tests' business); what is checked is the pool's own bookkeeping.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

import labpool


class CountedLab:
    started: Counter = Counter()
    closed: Counter = Counter()
    stopped: set = set()            # names of labs with a host stopped

    def __init__(self, name, *, port_prefix, workspace):
        self.name, self.port_prefix, self.workspace = name, port_prefix, workspace

    def up(self):
        CountedLab.started[self.name] += 1
        CountedLab.stopped.discard(self.name)
        return self

    def running(self):
        return {"client"} if self.name in CountedLab.stopped else {"client", "mail"}

    def close(self):
        CountedLab.closed[self.name] += 1


@pytest.fixture
def pool(tmp_path, monkeypatch):
    CountedLab.started, CountedLab.closed, CountedLab.stopped = Counter(), Counter(), set()
    prefixes = iter(range(100, 200))
    monkeypatch.setattr(labpool, "Lab", CountedLab)
    monkeypatch.setattr(labpool.ports, "free_port_prefix", lambda: next(prefixes))
    return labpool.LabPool(tmp_path / "pool", size=2)


def test_borrowers_never_share_a_lab_and_never_make_more_than_the_size(pool):
    pool.folder.mkdir()
    holding, most, lock, errors = Counter(), [0], threading.Lock(), []

    def borrow():
        try:
            with pool.lease() as lab:
                with lock:
                    holding[lab.name] += 1
                    most[0] = max(most[0], holding[lab.name])
                time.sleep(0.05)
                with lock:
                    holding[lab.name] -= 1
        except Exception as exc:          # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=borrow) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert most[0] == 1, "two borrowers held one lab at the same time"
    assert len(CountedLab.started) == 2 and set(CountedLab.started.values()) == {1}   # each started once
    labs = json.loads(pool.state_file.read_text())
    assert all(lab["holder"] is None and lab["up"] for lab in labs.values())
    assert len({lab["prefix"] for lab in labs.values()}) == 2


def test_a_lab_is_lent_again_rather_than_a_new_one_started(pool):
    pool.folder.mkdir()
    with pool.lease() as first:
        pass
    with pool.lease() as second:
        assert second.name == first.name and second.workspace == first.workspace
    assert sum(CountedLab.started.values()) == 1


def test_a_lab_given_back_with_a_host_stopped_is_brought_up_before_it_is_lent_again(pool):
    pool.folder.mkdir()
    with pool.lease() as lab:
        CountedLab.stopped.add(lab.name)          # a test stopped mail and failed before starting it
    with pool.lease() as again:
        assert again.name == lab.name and again.running() == {"client", "mail"}
    assert CountedLab.started[lab.name] == 2


def test_a_lab_held_by_a_process_that_is_gone_is_free_again(pool):
    pool.folder.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    with pool.lease() as lab:
        name = lab.name
    with pool._state() as labs:
        labs[name]["holder"] = int(gone.stdout)
        labs["t-other"] = {"holder": int(gone.stdout), "up": True, "hosts": ["client", "mail"], "prefix": 199,
                           "workspace": str(pool.folder / "t-other")}
    with pool.lease() as again:
        assert again.name == name
    assert sum(CountedLab.started.values()) == 1


def test_a_lab_that_fails_to_start_leaves_the_pool(pool, monkeypatch):
    pool.folder.mkdir()

    def broken(self):
        raise RuntimeError("tools.lab up failed")
    monkeypatch.setattr(CountedLab, "up", broken)
    with pytest.raises(RuntimeError, match="tools.lab up failed"):
        with pool.lease():
            pass
    assert json.loads(pool.state_file.read_text()) == {}
    assert sum(CountedLab.closed.values()) == 1                 # what it had made is removed


def test_close_all_ends_every_lab_and_the_folder(pool):
    pool.folder.mkdir()
    with pool.lease():
        with pool.lease():
            pass
    pool.close_all()
    assert sorted(CountedLab.closed) == sorted(CountedLab.started) and len(CountedLab.closed) == 2
    assert not pool.folder.exists()
