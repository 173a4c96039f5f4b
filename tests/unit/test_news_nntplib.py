"""Every method of nntplib.NNTP against the lab's news server, in-process."""

from __future__ import annotations

import datetime
import io
import ssl
import time
from email.utils import parsedate_to_datetime

import pytest
from concurrently import failures
from newslab import (ACCOUNTS, RunningServer, article_bytes, certificate, news, nntplib,  # noqa: F401
                     seeded_spool, spool_dir)

from socklab.services.news.article import Article
from socklab.services.news.seed import articles as seed_articles
from socklab.services.news.server import tls_context

CLP = "comp.lang.python"
SEED = [a for _, a in seed_articles()]
CLP_SEED = [a for a in SEED if a.get("Newsgroups") == CLP]


def stored(article: Article, group: str, number: int) -> Article:
    """A seed article as the spool keeps it: with the Xref header the server adds."""
    copy = Article(list(article.fields), article.body)
    copy.set("Xref", f"news.lab.test {group}:{number}")
    return copy


# comp.lang.python as a reader sees it: the seed, numbered from 1 in date order
CLP_STORED = [stored(a, CLP, n) for n, a in enumerate(CLP_SEED, 1)]


def test_welcome_and_capabilities(news):
    with news.nntp() as s:
        assert s.getwelcome().startswith("200 ")
        caps = s.getcapabilities()
        assert caps["VERSION"] == ["2"]
        for name in ("READER", "POST", "HDR", "NEWNEWS"):
            assert name in caps
        assert caps["OVER"] == ["MSGID"]
        assert set(caps["LIST"]) >= {"ACTIVE", "NEWSGROUPS", "OVERVIEW.FMT", "HEADERS"}
        assert caps["AUTHINFO"] == ["USER"]
        resp, fresh = s.capabilities()
        assert resp.startswith("101") and fresh == caps
        assert s.nntp_version == 2


def test_reader_mode_is_accepted(news):
    with news.nntp(readermode=True) as s:
        assert s.getwelcome().startswith("200")
        assert s._shortcmd("MODE READER").startswith("200")


def test_group_reports_count_and_range(news):
    with news.nntp() as s:
        resp, count, first, last, name = s.group(CLP)
        assert (count, first, last, name) == (len(CLP_SEED), 1, len(CLP_SEED), CLP)
        assert resp == f"211 {count} {first} {last} {CLP}"
        with pytest.raises(nntplib.NNTPTemporaryError, match="^411"):
            s.group("no.such.group")


def test_list_and_wildmat_patterns(news):
    with news.nntp() as s:
        _, groups = s.list()
        assert [g.group for g in groups] == [CLP, "lab.announce", "lab.test"]
        flags = {g.group: g.flag for g in groups}
        assert flags == {CLP: "y", "lab.announce": "n", "lab.test": "y"}
        clp = groups[0]
        assert (int(clp.first), int(clp.last)) == (1, len(CLP_SEED))
        assert [g.group for g in s.list("lab.*")[1]] == ["lab.announce", "lab.test"]
        assert [g.group for g in s.list("*,!lab.*")[1]] == [CLP]
        assert [g.group for g in s.list("lab.?est")[1]] == ["lab.test"]
        assert s.list("nothing.*")[1] == []


def test_descriptions(news):
    with news.nntp() as s:
        assert "Python" in s.description(CLP)
        resp, descs = s.descriptions("lab.*")
        assert resp.startswith("215")
        assert set(descs) == {"lab.announce", "lab.test"}
        assert "read-only" in descs["lab.announce"]
        assert s.description("no.such.group") == ""


def test_help(news):
    with news.nntp() as s:
        resp, lines = s.help()
        assert resp.startswith("100")
        text = "\n".join(lines)
        for command in ("GROUP", "ARTICLE", "XHDR", "OVER", "POST", "AUTHINFO", "QUIT"):
            assert command in text


def test_date_is_now_in_utc(news):
    with news.nntp() as s:
        resp, when = s.date()
        assert resp.startswith("111 ")
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        assert abs((when - now).total_seconds()) < 5


def test_stat_next_last_walk_the_group(news):
    with news.nntp() as s:
        s.group(CLP)
        resp, number, msgid = s.stat()
        assert (number, msgid) == (1, CLP_SEED[0].get("Message-ID"))
        assert s.next()[1:] == (2, CLP_SEED[1].get("Message-ID"))
        assert s.next()[1] == 3
        assert s.last()[1] == 2
        assert s.stat(5)[1] == 5                 # STAT n moves the current article ...
        assert s.next()[1] == 6
        assert s.stat(CLP_SEED[0].get("Message-ID"))[1] == 1     # ... STAT <id> does not
        assert s.next()[1] == 7
        s.stat(len(CLP_SEED))
        with pytest.raises(nntplib.NNTPTemporaryError, match="^421"):
            s.next()
        s.stat(1)
        with pytest.raises(nntplib.NNTPTemporaryError, match="^422"):
            s.last()
        with pytest.raises(nntplib.NNTPTemporaryError, match="^423"):
            s.stat(999)


def test_article_head_body_by_number_and_message_id(news):
    seed = CLP_STORED[3]
    msgid = seed.get("Message-ID")
    with news.nntp() as s:
        s.group(CLP)
        resp, info = s.article(4)
        assert resp.startswith("220 4 ") and info.number == 4 and info.message_id == msgid
        assert info.lines == seed.lines()
        _, head = s.head(4)
        assert head.lines == seed.head_lines()
        _, body = s.body(4)
        assert body.lines == seed.body_lines()
        # by message-id: the same text; the number is the one in the selected group
        assert s.article(msgid)[1].lines == seed.lines()
        assert s.body(msgid)[1].number == 4
    with news.nntp() as s:                       # no group selected: number 0
        resp, info = s.head(msgid)
        assert resp.startswith(f"221 0 {msgid}")
        with pytest.raises(nntplib.NNTPTemporaryError, match="^430"):
            s.article("<no-such-article@lab.test>")
        with pytest.raises(nntplib.NNTPTemporaryError, match="^412"):
            s.article(1)


def test_current_article_is_used_without_argument(news):
    with news.nntp() as s:
        s.group(CLP)
        s.stat(7)
        assert s.article()[1].number == 7
        assert s.head()[1].message_id == CLP_SEED[6].get("Message-ID")
        assert s.body()[1].lines == CLP_STORED[6].body_lines()


def test_article_into_a_file(news, tmp_path):
    with news.nntp() as s:
        s.group(CLP)
        buffer = io.BytesIO()
        s.body(2, file=buffer)
        assert buffer.getvalue() == b"".join(line + b"\r\n" for line in CLP_SEED[1].body_lines())
        path = tmp_path / "article.txt"
        s.article(2, file=str(path))
        assert path.read_bytes().startswith(b"From: ")


def test_xhdr_the_chapter_way(news):
    with news.nntp() as s:
        _, count, first, last, _ = s.group(CLP)
        resp, subs = s.xhdr("subject", f"{first}-{last}")
        assert resp.startswith("221")
        assert [int(n) for n, _ in subs] == list(range(first, last + 1))
        assert [v for _, v in subs] == [a.get("Subject") for a in CLP_SEED]
        decoded = [nntplib.decode_header(v) for _, v in subs]
        assert "Python 中文编码问题" in decoded
        assert "Umlaute im Betreff: äöü ß" in decoded
        # a single article, a message-id, a header nobody has
        assert s.xhdr("from", "3")[1] == [("3", CLP_SEED[2].get("From"))]
        msgid = CLP_SEED[0].get("Message-ID")
        assert s.xhdr("subject", msgid)[1] == [f"{msgid} {CLP_SEED[0].get('Subject')}"]
        assert s.xhdr("x-no-such-header", "1-2")[1] == [("1", "(none)"), ("2", "(none)")]
        assert s.xhdr("subject", "900-999")[1] == []     # RFC 2980: an empty list


def test_hdr(news):
    with news.nntp() as s:
        s.group(CLP)
        resp, lines = s._longcmdstring("HDR Subject 1-3")
        assert resp.startswith("225")
        assert lines == [f"{i + 1} {CLP_SEED[i].get('Subject')}" for i in range(3)]
        _, lines = s._longcmdstring("HDR :lines 2")
        assert lines == [f"2 {CLP_SEED[1].line_count}"]
        _, lines = s._longcmdstring("HDR X-Nothing 2")
        assert lines == ["2 "]
        with pytest.raises(nntplib.NNTPTemporaryError, match="^423"):
            s._longcmdstring("HDR Subject 900-999")


def test_overview_format_and_xover(news):
    with news.nntp() as s:
        fmt = s._getoverviewfmt()
        assert fmt == ["subject", "from", "date", "message-id", "references", ":bytes", ":lines", "xref"]
        _, count, first, last, _ = s.group(CLP)
        resp, overviews = s.xover(first, last)
        assert resp.startswith("224")
        assert [n for n, _ in overviews] == list(range(first, last + 1))
        for (number, over), seed in zip(overviews, CLP_STORED):
            assert over["subject"] == seed.get("Subject")
            assert over["message-id"] == seed.get("Message-ID")
            assert over["references"] == (seed.get("References") or "")
            assert int(over[":bytes"]) == len(b"".join(line + b"\r\n" for line in seed.lines()))
            assert int(over[":lines"]) == len(seed.body_lines())
            assert over["xref"] == f"news.lab.test {CLP}:{number}"
        assert s.xover(900, 999)[1] == []


def test_over_range_message_id_and_current(news):
    with news.nntp() as s:
        s.group(CLP)
        assert [n for n, _ in s.over((30, None))[1]] == list(range(30, len(CLP_SEED) + 1))
        assert [n for n, _ in s.over((2, 4))[1]] == [2, 3, 4]
        msgid = CLP_SEED[9].get("Message-ID")
        [(number, over)] = s.over(msgid)[1]
        assert number == 10 and over["message-id"] == msgid
        s.stat(12)
        assert [n for n, _ in s.over(None)[1]] == [12]
        with pytest.raises(nntplib.NNTPTemporaryError, match="^423"):
            s.over((900, 999))
    with news.nntp() as s:
        [(number, over)] = s.over(msgid)[1]
        assert number == 0                       # not in a selected group


def test_folded_references_come_out_on_one_line(news):
    deep = [a for a in CLP_SEED if len((a.get("References") or "").split()) == 3][0]
    with news.nntp() as s:
        [(_, over)] = s.over(deep.get("Message-ID"))[1]
        assert over["references"].split() == deep.get("References").split()
        assert "\t" not in over["references"]


def test_newgroups_and_newnews(news):
    with news.nntp() as s:
        _, groups = s.newgroups(datetime.date(2000, 1, 1))
        assert {g.group for g in groups} == {CLP, "lab.announce", "lab.test"}
        tomorrow = datetime.datetime.now() + datetime.timedelta(days=1)
        assert s.newgroups(tomorrow)[1] == []
        # the seed articles "arrived" at their dates, in March 2024
        since = datetime.datetime(2024, 3, 9)
        resp, ids = s.newnews(CLP, since)
        assert resp.startswith("230")
        later = {a.get("Message-ID") for a in CLP_SEED
                 if parsedate_to_datetime(a.get("Date")) >= since.astimezone()}
        assert set(ids) == later and 0 < len(later) < len(CLP_SEED)
        assert s.newnews("lab.*", datetime.datetime(2024, 3, 9))[1] == []
        before = datetime.datetime.now() - datetime.timedelta(minutes=1)
        s.post(article_bytes(subject="brand new"))
        [new] = s.newnews("*", before)[1]
        assert s.head(new)[1].message_id == new


def test_post_and_read_back(news):
    with news.nntp() as s:
        resp = s.post(article_bytes(group="lab.test", subject="Grüße, 你好", body="line one\r\n.dotted line"))
        assert resp.startswith("240 <")
        msgid = resp.split()[1]
        _, count, first, last, _ = s.group("lab.test")
        _, info = s.article(last)
        assert info.message_id == msgid
        lines = info.lines
        assert b".dotted line" in lines            # dot-stuffing undone both ways
        head = dict(line.split(b": ", 1) for line in s.head(last)[1].lines if b": " in line)
        assert head[b"Subject"].decode() == "Grüße, 你好"
        assert head[b"Xref"] == f"news.lab.test lab.test:{last}".encode()
        assert head[b"Path"] == b"news.lab.test!not-for-mail"
        assert b"Injection-Date" in head and b"Date" in head


def test_post_accepts_an_iterable_and_a_file(news, tmp_path):
    with news.nntp() as s:
        lines = article_bytes(subject="from lines").split(b"\r\n")
        assert s.post(iter(lines)).startswith("240")
        path = tmp_path / "article"
        path.write_bytes(article_bytes(subject="from a file").replace(b"\r\n", b"\n"))
        with open(path, "rb") as f:
            assert s.post(f).startswith("240")
        s.group("lab.test")
        subjects = [v for _, v in s.xhdr("subject", "2-")[1]]
        assert subjects == ["from lines", "from a file"]


def test_post_refusals(news):
    with news.nntp() as s:
        with pytest.raises(nntplib.NNTPTemporaryError, match="^441.*read-only"):
            s.post(article_bytes(group="lab.announce"))
        with pytest.raises(nntplib.NNTPTemporaryError, match="^441.*no such newsgroup"):
            s.post(article_bytes(group="alt.nowhere"))
        with pytest.raises(nntplib.NNTPTemporaryError, match="^441.*From"):
            s.post(b"Newsgroups: lab.test\r\nSubject: x\r\n\r\nbody\r\n")
        with pytest.raises(nntplib.NNTPTemporaryError, match="^441.*Subject"):
            s.post(b"From: a@b.c\r\nNewsgroups: lab.test\r\n\r\nbody\r\n")
        with pytest.raises(nntplib.NNTPTemporaryError, match="^441.*Newsgroups"):
            s.post(b"From: a@b.c\r\nSubject: x\r\n\r\nbody\r\n")
        with pytest.raises(nntplib.NNTPTemporaryError, match="^441.*address"):
            s.post(article_bytes(sender="nobody"))
        with pytest.raises(nntplib.NNTPTemporaryError, match="^441.*Message-ID"):
            s.post(article_bytes(extra="Message-ID: not-an-id\r\n"))
        with pytest.raises(nntplib.NNTPTemporaryError, match="^441.*already"):
            s.post(article_bytes(extra=f"Message-ID: {CLP_SEED[0].get('Message-ID')}\r\n"))
        with pytest.raises(nntplib.NNTPTemporaryError, match="^441.*header line"):
            s.post(b"this is not a header\r\n\r\nbody\r\n")
        with pytest.raises(nntplib.NNTPTemporaryError, match="^441.*998"):
            s.post(article_bytes(body="x" * 2000))
        assert s.group("lab.test")[1] == 1             # nothing got in
        assert s.group("lab.announce")[1] == 3
        # a message-id chosen by the poster is kept, and a cross-post goes to both groups
        resp = s.post(article_bytes(group="lab.test,comp.lang.python",
                                    extra="Message-ID: <mine.1@lab.test>\r\n"))
        assert resp.startswith("240 <mine.1@lab.test>")
        assert s.group("lab.test")[1] == 2
        head = s.head("<mine.1@lab.test>")[1].lines
        assert f"Xref: news.lab.test lab.test:2 {CLP}:{len(CLP_SEED) + 1}".encode() in head


def test_login(news):
    with news.nntp(user="student", password="password") as s:
        assert "AUTHINFO" not in s.getcapabilities()     # not offered once logged in
        resp = s.post(article_bytes(subject="as student"))
        msgid = resp.split()[1]
        head = s.head(msgid)[1].lines
        assert any(b'posting-account="student"' in line for line in head)
    with pytest.raises(nntplib.NNTPTemporaryError, match="^481"):
        news.nntp(user="student", password="wrong")
    with pytest.raises(nntplib.NNTPTemporaryError, match="^481"):
        news.nntp(user="nobody", password="password")


def test_login_required_mode(spool_dir):
    server = RunningServer(spool_dir, require_auth=True)
    try:
        with server.nntp() as s:
            with pytest.raises(nntplib.NNTPTemporaryError, match="^480"):
                s.group(CLP)
            s.login("student", ACCOUNTS["student"])
            assert s.group(CLP)[1] == len(CLP_SEED)
    finally:
        server.stop()


def test_slave_ihave_starttls_and_quit(news):
    s = news.nntp()
    assert s.slave().startswith("202")
    with pytest.raises(nntplib.NNTPPermanentError, match="^502"):
        s.ihave("<x@lab.test>", article_bytes())
    assert "STARTTLS" not in s.getcapabilities()
    with pytest.raises(nntplib.NNTPPermanentError, match="^502"):
        s.starttls()                                 # no certificate configured here
    assert s.quit().startswith("205")


def test_starttls(spool_dir, certificate):
    ca, cert, key = certificate
    server = RunningServer(spool_dir, tls_context=tls_context(str(cert), str(key)))
    try:
        with server.nntp() as s:
            assert "STARTTLS" in s.getcapabilities()
            s.group(CLP)
            s.starttls(ssl.create_default_context(cafile=str(ca)))
            assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
            assert "STARTTLS" not in s.getcapabilities()    # asked again after the switch
            s.login("student", "password")                 # the password travels encrypted
            with pytest.raises(nntplib.NNTPTemporaryError, match="^412"):
                s.stat()                                    # the group chosen in the clear is forgotten
            assert s.group(CLP)[1] == len(CLP_SEED)
        s = server.nntp()
        with pytest.raises(ssl.SSLCertVerificationError):
            s.starttls(ssl.create_default_context())        # a CA the client does not trust
        s.sock.close()
        with server.nntp(user="student", password="password") as s:
            with pytest.raises(nntplib.NNTPPermanentError, match="^502"):
                s._shortcmd("STARTTLS")                      # not after logging in
        assert server.raw().cmd("STARTTLS now").startswith(b"501")
        with server.nntp() as s:                            # and the server still serves
            assert s.group(CLP)[1] == len(CLP_SEED)
    finally:
        server.stop()


def test_debug_output(news, capsys):
    with news.nntp() as s:
        s.set_debuglevel(1)
        s.group(CLP)
        s.debug(0)
        s.group("lab.test")
    out = capsys.readouterr().out
    assert "*cmd* 'GROUP comp.lang.python'" in out
    assert "lab.test" not in out


def test_many_readers_at_once(spool_dir):
    """40 readers at once, all from 127.0.0.1: more than the default per-address limit (32,
    tested in test_chaos_fixes.py), so this server allows them all."""
    news = RunningServer(spool_dir, max_clients=64, max_per_address=64)

    def reader(i: int) -> None:
        with news.nntp() as s:
            assert s.group(CLP)[1] == len(CLP_SEED)
            assert s.body(1 + i % len(CLP_SEED))[1].lines == CLP_STORED[i % len(CLP_SEED)].body_lines()

    try:
        assert failures(reader, [(i,) for i in range(40)], timeout=30) == []
    finally:
        news.stop()


def test_a_silent_client_is_dropped_and_others_are_served(spool_dir):
    server = RunningServer(spool_dir, idle_timeout=0.5)
    try:
        silent = server.raw()
        started = time.monotonic()
        with server.nntp() as s:                   # served while the other one sits there
            assert s.group(CLP)[1] == len(CLP_SEED)
        assert silent.line().startswith(b"400 ")   # then the silent one is told, and dropped
        assert silent.line() == b""
        assert time.monotonic() - started < 5
    finally:
        server.stop()
