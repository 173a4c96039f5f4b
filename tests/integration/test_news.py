"""The news host across the lab network: news-client in the client container against `news`,
a second client (nntplib on the test host, through the published port), and restarts."""

from __future__ import annotations

import re
import socket
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import nntplib

from concurrently import failures


def host_nntp(lab) -> nntplib.NNTP:
    """Another client: nntplib on the machine running the tests, via news's host port."""
    return nntplib.NNTP("127.0.0.1", lab.host_port("news", 119), timeout=20)


def posted_id(result) -> str:
    found = re.search(r"^posted (<[^>]+>)$", result.stdout, re.M)
    assert found, result
    return found.group(1)


def test_the_chapter_flow_in_the_client(lab):
    result = lab.exec("client", ["news-client"], input="3\n")
    assert result.ok, result
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"comp\.lang\.python: (\d+) articles, 1-\1", lines[0]), result
    subjects = lines[1:11]
    assert len(subjects) == 10 and all(re.match(r" *\d+  \S", s) for s in subjects), result
    assert "Subject: socket.recv() returns less data than I sent" in result.stdout
    assert "TCP is a byte stream" not in result.stdout        # that is the reply, article 5


def test_groups_and_wildmat(lab):
    result = lab.exec("client", ["news-client", "groups"])
    assert result.ok, result
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names[:3] == ["comp.lang.python", "lab.announce", "lab.test"], result
    assert "read-only" in result.stdout.splitlines()[1]
    result = lab.exec("client", ["news-client", "groups", "comp.*"])
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["comp.lang.python"], result


def test_post_then_read_back_by_number_and_message_id(lab):
    result = lab.exec("client", ["news-client", "post", "-g", "lab.test", "-s", "实验 posted from client",
                                 "-m", "across the lab network"])
    assert result.ok, result
    msgid = posted_id(result)
    number = int(re.search(r"lab\.test:(\d+)", result.stdout).group(1))
    # read back by number, by a new news-client process ...
    by_number = lab.exec("client", ["news-client", "read", "-g", "lab.test", str(number)])
    assert by_number.ok, by_number
    assert f"Message-ID: {msgid}" in by_number.stdout
    assert "Subject: 实验 posted from client" in by_number.stdout
    assert "across the lab network" in by_number.stdout
    # ... and by message-id from another machine altogether
    with host_nntp(lab) as s:
        _, info = s.article(msgid)
        assert info.message_id == msgid
        assert info.lines[-1] == b"across the lab network"
        assert f"Xref: news.lab.test lab.test:{number}".encode() in info.lines
        _, count, first, last, _ = s.group("lab.test")
        assert last == number
        assert s.stat(number)[2] == msgid


def test_every_reader_sees_a_post_at_once(lab):
    with host_nntp(lab) as reader:
        _, _, _, before, _ = reader.group("lab.test")
        result = lab.exec("client", ["news-client", "post", "-g", "lab.test", "-s", "for the reader", "-m", "x"])
        assert result.ok, result
        _, overviews = reader.over((before + 1, None))       # same session, group selected before
        assert [o["subject"] for _, o in overviews] == ["for the reader"]


def test_thread_and_mime(lab):
    result = lab.exec("client", ["news-client", "thread", "<recv.a3@lab.test>"])
    assert result.ok, result
    lines = result.stdout.splitlines()
    assert lines[0] == "thread in comp.lang.python:" and len(lines) == 5, result
    assert lines[-1].startswith("*"), result
    result = lab.exec("client", ["news-client", "read", "<attach.q@lab.test>"])
    assert "[attachment echo_server.py: text/x-python" in result.stdout, result


def test_refusals_are_one_clear_line(lab):
    result = lab.exec("client", ["news-client", "post", "-g", "lab.announce", "-s", "x", "-m", "y"])
    assert result.exit_code == 1, result
    assert "441" in result.stderr and "read-only" in result.stderr and "Traceback" not in result.stderr
    result = lab.exec("client", ["news-client", "--user", "student", "--password", "wrong", "groups"])
    assert result.exit_code == 1 and "481" in result.stderr, result
    result = lab.exec("client", ["news-client", "--host", "tcp-server", "groups"])
    assert result.exit_code == 1 and "connection refused" in result.stderr, result


def test_starttls_with_the_lab_certificate_and_login(lab):
    result = lab.exec("client", ["news-client", "--trace", "--starttls", "--user", "student",
                                 "--password", "password", "groups", "lab.*"])
    assert result.ok, result
    assert "*resp* b'382 " in result.stderr and "*resp* b'281 " in result.stderr, result
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["lab.announce", "lab.test"]


def test_talking_nntp_by_hand(lab):
    script = "printf 'group comp.lang.python\\r\\nxhdr subject 1-2\\r\\nfrobnicate\\r\\nquit\\r\\n' | nc -q 5 news 119"
    result = lab.exec("client", ["sh", "-c", script])
    lines = result.stdout.replace("\r\n", "\n").splitlines()
    assert lines[0].startswith("200 "), result
    assert re.fullmatch(r"211 \d+ 1 \d+ comp\.lang\.python", lines[1]), result
    assert lines[2].startswith("221 ") and lines[3] == "1 manually sorting images?" and lines[5] == "."
    assert lines[6].startswith("500 ") and lines[7].startswith("205 "), result


def test_many_readers_while_one_sits_silent(lab):
    port = lab.host_port("news", 119)
    silent = socket.create_connection(("127.0.0.1", port), timeout=20)

    def reader() -> None:
        with nntplib.NNTP("127.0.0.1", port, timeout=60) as s:
            _, count, first, last, _ = s.group("comp.lang.python")
            _, subjects = s.xhdr("subject", f"{first}-{last}")
            assert len(subjects) == count

    errors = failures(reader, [()] * 20, timeout=60)
    silent.close()
    assert errors == []


def test_the_server_log_shows_the_dialogue(lab):
    lab.exec("client", ["news-client", "latest", "-g", "lab.announce", "-a", "1"])
    log = lab.logs("news")
    assert "XHDR subject" in log and "ARTICLE 1" in log
    assert "PASS password" not in log


# ---------------------------------------------------------------- persistence (restarts last)

def test_posts_survive_a_restart_of_the_news_host(lab):
    result = lab.exec("client", ["news-client", "post", "-g", "comp.lang.python", "-s", "Re: manually sorting images?",
                                 "-r", "<images.q@lab.test>", "-m", "survives restarts"])
    assert result.ok, result
    msgid = posted_id(result)
    with host_nntp(lab) as s:
        _, count, _, last, _ = s.group("comp.lang.python")
    lab.restart("news")
    with host_nntp(lab) as s:
        assert s.group("comp.lang.python")[1:4] == (count, 1, last)     # no second seed either
        assert s.stat(msgid)[1] == last           # the group is selected: its number
        assert s.body(last)[1].lines == [b"survives restarts"]
        # numbers go on from where they were
        s.post(b"From: a@lab.test\r\nNewsgroups: comp.lang.python\r\nSubject: next\r\n\r\nnext\r\n")
        assert s.group("comp.lang.python")[3] == last + 1


def test_an_acknowledged_post_survives_a_kill(lab):
    result = lab.exec("client", ["news-client", "post", "-g", "lab.test", "-s", "before the kill", "-m", "k"])
    assert result.ok, result
    msgid = posted_id(result)
    lab.kill("news")                             # SIGKILL: no chance to clean up
    lab.start("news")
    result = lab.exec("client", ["news-client", "read", msgid])
    assert result.ok, result
    assert "Subject: before the kill" in result.stdout
