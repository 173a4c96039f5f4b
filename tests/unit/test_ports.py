"""tools/ports.py: port blocks for throw-away labs, promised to one caller at a time.

make test's workers, the bench and chaos start labs at the same moment; a block is free by
every check until its lab's containers bind it, so two callers must never be handed the
same block in between.
"""

import json
import threading
import time

import pytest

from tools import ports


@pytest.fixture
def same_order(monkeypatch):
    """Every caller looks at the blocks in the same order: only the promises keep them apart."""
    monkeypatch.setattr(ports.random, "sample", lambda population, k: list(population)[:k])
    monkeypatch.setattr(ports, "port_free", lambda port: True)


def test_callers_at_the_same_moment_get_different_blocks(tmp_path, same_order):
    file = tmp_path / "blocks.json"
    got, start = [], threading.Barrier(8)

    def ask():
        start.wait()
        got.append(ports.free_port_prefix(file, used=set()))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len(set(got)) == 8, got
    assert set(json.loads(file.read_text())) == {str(p) for p in got}


def test_a_published_block_is_skipped_and_a_released_one_is_handed_out_again(tmp_path, same_order):
    file = tmp_path / "blocks.json"
    first = ports.free_port_prefix(file, used={100})
    assert first == 101
    assert ports.free_port_prefix(file, used={100}) == 102
    ports.release(first, file)
    assert ports.free_port_prefix(file, used={100}) == 101


def test_a_promise_ends_after_the_hold(tmp_path, same_order):
    file = tmp_path / "blocks.json"
    file.write_text(json.dumps({"100": time.time() - ports.HOLD - 1, "101": time.time()}))
    assert ports.free_port_prefix(file, used=set()) == 100
    assert set(json.loads(file.read_text())) == {"100", "101"}


def test_a_broken_file_is_started_afresh(tmp_path, same_order):
    file = tmp_path / "blocks.json"
    file.write_text("{not json")
    assert ports.free_port_prefix(file, used=set()) == 100
    assert list(json.loads(file.read_text())) == ["100"]


def test_no_free_block_is_a_clear_error(tmp_path, same_order):
    with pytest.raises(ports.LabError, match="no free block"):
        ports.free_port_prefix(tmp_path / "blocks.json", used=set(range(100, 200)))


def test_a_block_with_one_port_taken_is_not_free(tmp_path, monkeypatch):
    monkeypatch.setattr(ports.random, "sample", lambda population, k: list(population)[:k])
    monkeypatch.setattr(ports, "port_free", lambda port: port != 10042)
    assert ports.free_port_prefix(tmp_path / "blocks.json", used=set()) == 101
