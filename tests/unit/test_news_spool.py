"""The spool keeps its promises: posts survive restarts and crashes, numbers are never reused."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from concurrently import failures
from newslab import RunningServer, article_bytes, news, nntplib, seeded_spool, spool_dir  # noqa: F401

from socklab.services.news.article import Article
from socklab.services.news.spool import Spool, SpoolError


def test_the_spool_is_plain_files(spool_dir):
    active = (spool_dir / "active").read_text().splitlines()
    assert active == ["comp.lang.python 0000000034 0000000001 y",
                      "lab.announce 0000000003 0000000001 n",
                      "lab.test 0000000001 0000000001 y"]
    assert "Python" in (spool_dir / "newsgroups").read_text()
    first = (spool_dir / "articles" / "comp" / "lang" / "python" / "1").read_bytes()
    assert first.startswith(b"From: ") and b"\r" not in first     # LF on disk, for cat and less
    assert b"\nXref: news.lab.test comp.lang.python:1\n" in first


def test_posts_survive_a_restart(spool_dir):
    server = RunningServer(spool_dir)
    with server.nntp() as s:
        resp = s.post(article_bytes(group="lab.test", subject="still here?", body="yes"))
        msgid = resp.split()[1]
        number = s.group("lab.test")[3]
    server.stop()

    server = RunningServer(spool_dir)                 # a new server over the same directory
    try:
        with server.nntp() as s:
            _, count, first, last, _ = s.group("lab.test")
            assert (count, last) == (2, number)
            assert s.article(number)[1].message_id == msgid
            assert s.body(msgid)[1].lines == [b"yes"]
            assert s.xhdr("subject", str(number))[1] == [(str(number), "still here?")]
            # the next post gets the next number
            s.post(article_bytes(group="lab.test"))
            assert s.group("lab.test")[3] == number + 1
            assert s.group("comp.lang.python")[1] == 34     # and the seed was not added twice
    finally:
        server.stop()


def test_numbers_are_never_reused(spool_dir):
    server = RunningServer(spool_dir)
    with server.nntp() as s:
        for i in range(3):
            s.post(article_bytes(subject=f"post {i}"))
        assert s.group("lab.test")[3] == 4
    server.stop()
    # articles 3 and 4 disappear (say, an administrator removed them): 3 and 4 stay used
    for n in (3, 4):
        (spool_dir / "articles" / "lab" / "test" / str(n)).unlink()
    server = RunningServer(spool_dir)
    try:
        with server.nntp() as s:
            resp, count, first, last, _ = s.group("lab.test")
            assert (count, first, last) == (2, 1, 4)
            s.post(article_bytes(subject="after the removal"))
            assert s.group("lab.test")[3] == 5
            assert s.xhdr("subject", "5")[1] == [("5", "after the removal")]
    finally:
        server.stop()


def test_an_article_the_active_file_missed_is_found_at_start(spool_dir):
    """A crash after the article's file but before the new active: the number stays taken."""
    server = RunningServer(spool_dir)
    with server.nntp() as s:
        s.post(article_bytes(subject="written, active not updated"))
    server.stop()
    active = spool_dir / "active"
    active.write_text(active.read_text().replace("lab.test 0000000002", "lab.test 0000000001"))
    server = RunningServer(spool_dir)
    try:
        with server.nntp() as s:
            assert s.group("lab.test")[1:4] == (2, 1, 2)
            s.post(article_bytes(subject="next"))
            assert s.xhdr("subject", "2-3")[1] == [("2", "written, active not updated"), ("3", "next")]
        assert "lab.test 0000000003" in active.read_text()
    finally:
        server.stop()


def test_an_unfinished_write_is_cleaned_up(spool_dir):
    (spool_dir / "tmp" / "12345.1.999").write_bytes(b"From: half an article")
    spool = Spool(spool_dir)
    assert os.listdir(spool_dir / "tmp") == []
    assert spool.group("lab.test").count == 1


def test_concurrent_posts_get_distinct_numbers(spool_dir):
    server = RunningServer(spool_dir)

    def poster(i: int) -> None:
        with server.nntp() as s:
            for j in range(5):
                s.post(article_bytes(subject=f"thread {i} post {j}"))

    errors = failures(poster, [(i,) for i in range(8)], timeout=30)
    server.stop()
    assert errors == []
    server = RunningServer(spool_dir)
    try:
        with server.nntp() as s:
            _, count, first, last, _ = s.group("lab.test")
            assert (count, first, last) == (41, 1, 41)
            subjects = [v for _, v in s.xhdr("subject", "2-41")[1]]
            assert sorted(subjects) == sorted(f"thread {i} post {j}" for i in range(8) for j in range(5))
    finally:
        server.stop()


def test_store_refuses_unknown_groups_and_duplicates(spool_dir):
    spool = Spool(spool_dir)
    article = Article.from_bytes(article_bytes(extra="Message-ID: <one@lab.test>\r\n"))
    with pytest.raises(SpoolError, match="no such newsgroup"):
        spool.store(article, ["alt.nowhere"])
    spool.store(article, ["lab.test"])
    with pytest.raises(SpoolError, match="already"):
        spool.store(Article.from_bytes(article_bytes(extra="Message-ID: <one@lab.test>\r\n")), ["lab.test"])
    assert spool.group("lab.test").count == 2


# ---------------------------------------------------------------------------- a real crash

def start_server_process(spool: Path) -> tuple[subprocess.Popen, int]:
    """news-server as a process of its own on a free port; returns it and its port."""
    proc = subprocess.Popen([sys.executable, "-m", "socklab.services.news.server", "--host", "127.0.0.1",
                             "--port", "0", "--spool", str(spool)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    for line in proc.stdout:                       # the server logs its address once it listens
        output.append(line)
        found = re.search(r"NNTP server on \('127\.0\.0\.1', (\d+)\)", line)
        if found:
            return proc, int(found.group(1))
    proc.wait(10)
    raise RuntimeError("news-server did not start:\n" + "".join(output))


def test_an_acknowledged_post_survives_sigkill(tmp_path):
    """kill -9 right after 240: the article is there when the server comes back."""
    spool = tmp_path / "spool"
    proc, port = start_server_process(spool)
    try:
        s = nntplib.NNTP("127.0.0.1", port, timeout=30)
        ids = [s.post(article_bytes(subject=f"durable {i}")).split()[1] for i in range(5)]
        proc.send_signal(signal.SIGKILL)           # no goodbye, no cleanup, no flush
        proc.wait(30)
        s.sock.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    proc, port = start_server_process(spool)
    try:
        with nntplib.NNTP("127.0.0.1", port, timeout=30) as s:
            assert s.group("lab.test")[1:4] == (6, 1, 6)
            for i, msgid in enumerate(ids):
                assert s.head(msgid)[1].number == i + 2
                assert s.xhdr("subject", msgid)[1] == [f"{msgid} durable {i}"]
    finally:
        proc.terminate()                           # SIGTERM: a clean stop
        assert proc.wait(30) == 0
        proc.stdout.close()
