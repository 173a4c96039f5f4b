"""news-client against an in-process news server: what a student sees."""

from __future__ import annotations

import io
import socket

import pytest
from newslab import RunningServer, certificate, news, nntplib, seeded_spool, spool_dir  # noqa: F401

from socklab.clients import news_client
from socklab.services.news.seed import articles
from socklab.services.news.server import tls_context

CLP_SEED = [a for _, a in articles() if a.get("Newsgroups") == "comp.lang.python"]


def run(news, capsys, *argv, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = news_client.main(["--host", "127.0.0.1", "--port", str(news.port), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_chapter_flow(news, capsys, monkeypatch):
    code, out, err = run(news, capsys, stdin="13\n", monkeypatch=monkeypatch)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "comp.lang.python: 34 articles, 1-34"
    numbers = [int(line.split()[0]) for line in lines[1:11]]
    assert numbers == list(range(25, 35))
    assert lines[10].endswith("Re: Generators explained in one paragraph?")
    # then article 13, whose subject is Chinese in an encoded word
    assert "Subject: Python 中文编码问题" in out
    assert "From: 王小明 <xiaoming@lab.test>" in out
    assert "GBK" in out and "=?utf-8?" not in out


def test_latest_with_options_and_no_answer(news, capsys, monkeypatch):
    code, out, _ = run(news, capsys, "latest", "-g", "lab.announce", "-n", "2", stdin="", monkeypatch=monkeypatch)
    assert code == 0
    assert out.splitlines() == ["lab.announce: 3 articles, 1-3",
                                "    2  lab.announce is read-only",
                                "    3  Exercise: write your own news reader"]


def test_groups(news, capsys):
    code, out, _ = run(news, capsys, "groups")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["comp.lang.python", "lab.announce", "lab.test"]
    assert "34 articles" in lines[0] and "posting ok" in lines[0] and "Python" in lines[0]
    assert "read-only" in lines[1]
    code, out, _ = run(news, capsys, "groups", "lab.*,!lab.announce")
    assert [line.split()[0] for line in out.splitlines()] == ["lab.test"]


def test_read_by_number_and_by_message_id(news, capsys):
    code, by_number, _ = run(news, capsys, "read", "10")
    assert code == 0
    assert "Subject: Umlaute im Betreff: äöü ß" in by_number
    assert "\r" not in by_number
    msgid = [line for line in by_number.splitlines() if line.startswith("Message-ID: ")][0].split()[1]
    code, by_id, _ = run(news, capsys, "read", msgid)
    assert code == 0 and by_id == by_number


def test_read_shows_mime_parts(news, capsys):
    code, out, _ = run(news, capsys, "read", "<attach.q@lab.test>")
    assert code == 0
    assert "[attachment echo_server.py: text/x-python," in out
    assert "conn.sendall(data)" in out
    assert "--=_socklab_seed_attachment" not in out


def test_thread_follows_references(news, capsys):
    # the "recv" discussion: q <- a1 <- a2 <- a3, numbered by date among the others
    numbers = [n for n, a in enumerate(CLP_SEED, 1) if a.get("Message-ID").startswith("<recv.")]
    code, out, _ = run(news, capsys, "thread", str(numbers[2]))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "thread in comp.lang.python:"
    assert [int(line[1:6]) for line in lines[1:]] == numbers
    assert [line[0] for line in lines[1:]] == [" ", " ", "*", " "]     # the one asked for
    depth = [len(line[8:]) - len(line[8:].lstrip()) for line in lines[1:]]
    assert depth == [0, 2, 4, 6]          # each reply under the one it answers
    code, by_id, _ = run(news, capsys, "thread", "<recv.a2@lab.test>")
    assert by_id == out


def test_post_then_read_back(news, capsys):
    code, out, err = run(news, capsys, "post", "-g", "lab.test", "-s", "Grüße 你好", "--from",
                         "Ada <ada@lab.test>", "-m", "first line\n.second line starts with a dot")
    assert code == 0, err
    msgid = out.split()[1]
    assert msgid.startswith("<") and msgid.endswith(">")
    with news.nntp() as s:                               # another client reads it back
        _, count, _, last, _ = s.group("lab.test")
        info = s.article(last)[1]
        assert info.message_id == msgid
        subject = [line for line in info.lines if line.startswith(b"Subject: ")][0]
        assert subject.startswith(b"Subject: =?utf-8?")          # ASCII on the wire ...
        assert nntplib.decode_header(subject[9:].decode()) == "Grüße 你好"   # ... decoded back
        assert s.body(msgid)[1].lines == [b"first line", b".second line starts with a dot"]
    code, out, _ = run(news, capsys, "read", "-g", "lab.test", str(last))
    assert "Subject: Grüße 你好" in out and ".second line starts with a dot" in out


def test_post_a_reply_from_stdin(news, capsys, monkeypatch):
    code, out, err = run(news, capsys, "post", "-g", "comp.lang.python", "-s", "Re: manually sorting images?",
                         "-r", "<images.q@lab.test>", "<images.a1@lab.test>",
                         stdin="Another way: exiftool.\n", monkeypatch=monkeypatch)
    assert code == 0, err
    code, out, _ = run(news, capsys, "thread", "1")
    assert out.splitlines()[-1].split()[0] == "35"


def test_errors_are_one_line(news, capsys):
    code, out, err = run(news, capsys, "post", "-g", "lab.announce", "-s", "x", "-m", "y")
    assert code == 1
    assert err.strip().count("\n") == 0 and "441" in err and "read-only" in err
    code, _, err = run(news, capsys, "read", "999")
    assert code == 1 and "423" in err and "Traceback" not in err
    code, _, err = run(news, capsys, "latest", "-g", "no.such.group", "-a", "1")
    assert code == 1 and "411" in err


def test_network_errors_are_one_line(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]                     # nobody listens here
    code = news_client.main(["--host", "127.0.0.1", "--port", str(port), "groups"])
    err = capsys.readouterr().err
    assert code == 1 and "connection refused" in err and err.count("\n") == 1
    code = news_client.main(["--host", "no-such-host.invalid", "groups"])
    err = capsys.readouterr().err
    assert code == 1 and "unknown host" in err


def test_login(news, capsys):
    code, out, err = run(news, capsys, "--user", "student", "--password", "password", "groups")
    assert code == 0, err
    code, out, err = run(news, capsys, "--user", "student", "--password", "nope", "groups")
    assert code == 1 and "481" in err


def test_trace_shows_the_dialogue_on_stderr(news, capsys):
    code, out, err = run(news, capsys, "--trace", "read", "1")
    assert code == 0
    assert "*cmd* 'GROUP comp.lang.python'" in err
    assert "*cmd* 'ARTICLE 1'" in err and "*resp* b'220 1 <images.q@lab.test>" in err
    assert "*welcome* '200 " in err
    assert "*cmd*" not in out


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        news_client.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("latest", "groups", "read", "thread", "post", "--trace"):
        assert command in out


def test_starttls_then_login(spool_dir, certificate, capsys):
    ca, cert, key = certificate
    server = RunningServer(spool_dir, tls_context=tls_context(str(cert), str(key)))
    try:
        code, out, err = run(server, capsys, "--trace", "--starttls", "--cafile", str(ca),
                             "--user", "student", "--password", "password", "groups", "lab.test")
        assert code == 0, err
        assert out.split()[0] == "lab.test"
        assert err.index("*cmd* 'STARTTLS'") < err.index("*cmd* 'authinfo user student'")
        code, out, err = run(server, capsys, "--starttls", "groups")     # the test CA is not trusted
        assert code == 1 and "not trusted" in err and err.count("\n") == 1
    finally:
        server.stop()
