"""In-process fuzzing with hypothesis: the parsers and command handlers ``make chaos`` hits.

The network campaign (tools/chaos.py) throws malformed sessions at the running lab; these
tests throw hypothesis-generated input at the same code in this process, where a failure
shrinks to the smallest input that shows it.  What must hold for any input:

* the news parsers (articles, dates, wildmats) either work or raise their own error --
  never another exception;
* every command line to the NNTP, SMTP and FTP servers gets a reply with a status code,
  never a server fault, and the servers' logs never hold a traceback.
"""

from __future__ import annotations

import logging
import socket
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socklab.services.news.article import Article, ArticleError, check_posting, parse_date
from socklab.services.news.wildmat import WildmatError, check as check_wildmat, wildmat_match

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])

VERBS = {
    "nntp": ["ARTICLE", "HEAD", "BODY", "STAT", "GROUP", "LISTGROUP", "LIST", "NEXT", "LAST", "OVER", "XOVER",
             "HDR", "XHDR", "NEWGROUPS", "NEWNEWS", "DATE", "HELP", "MODE", "AUTHINFO", "CAPABILITIES", "IHAVE"],
    "smtp": ["HELO", "EHLO", "MAIL", "RCPT", "RSET", "NOOP", "VRFY", "EXPN", "HELP", "AUTH", "DATA"],
    "ftp": ["USER", "PASS", "CWD", "CDUP", "TYPE", "MODE", "STRU", "REST", "RNFR", "RNTO", "DELE", "RMD", "MKD",
            "PWD", "SIZE", "MDTM", "HASH", "OPTS", "FEAT", "SYST", "STAT", "HELP", "NOOP", "PBSZ", "PROT", "SITE",
            "MLST", "ALLO", "ACCT", "SMNT", "PORT", "EPRT"],
}

argument = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="0123456789-,<>@.*!?[]^ \t", max_size=40),
    st.integers(min_value=-10**20, max_value=10**20).map(str),
    st.sampled_from(["FROM:<a@lab.test>", "TO:<alice@lab.test>", "<x@y>", "1-", "-", "comp.*,!comp.lang.*",
                     "../../etc/passwd", "%s%n", "20260101 000000 GMT", "USER", "PASS x", "SIZE=99999999999"]),
)


def command_lines(protocol: str):
    verb = st.sampled_from(VERBS[protocol]) | st.text(min_size=1, max_size=12).filter(lambda v: v.strip())
    return st.lists(st.tuples(verb, st.lists(argument, max_size=3)), min_size=1, max_size=6).map(
        lambda cmds: [(" ".join([v, *args])).replace("\r", " ").replace("\n", " ")[:400] for v, args in cmds])


class Records(logging.Handler):
    def __init__(self, *names: str) -> None:
        super().__init__(logging.DEBUG)
        self.names, self.records = names, []

    def emit(self, record):
        self.records.append(record)

    def __enter__(self):
        for name in self.names:
            logging.getLogger(name).addHandler(self)
            logging.getLogger(name).setLevel(logging.INFO)
        return self

    def __exit__(self, *exc):
        for name in self.names:
            logging.getLogger(name).removeHandler(self)

    def problems(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.exc_info or "Traceback" in r.getMessage()
                or "ended by an error" in r.getMessage() or "unexpected error" in r.getMessage()
                or " failed: " in r.getMessage() and "post refused" not in r.getMessage()]


# --------------------------------------------------------------------------- news parsers

@FUZZ
@given(st.binary(max_size=3000))
def test_any_bytes_make_an_article_or_an_article_error(data):
    try:
        article = Article.from_bytes(data)
    except ArticleError:
        return
    try:
        check_posting(article)
    except ArticleError:
        pass
    article.overview()
    article.to_bytes()


@FUZZ
@given(st.lists(st.tuples(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126,
                                                                   blacklist_characters=":"), min_size=1, max_size=20),
                          st.text(max_size=80)), max_size=8), st.binary(max_size=500))
def test_headers_of_any_text_parse_or_are_refused(headers, body):
    data = b"".join(f"{name}: {value}".encode("utf-8", "surrogatepass") + b"\r\n" for name, value in headers)
    try:
        article = Article.from_bytes(data + b"\r\n" + body)
        check_posting(article)
    except (ArticleError, UnicodeEncodeError):
        pass


@FUZZ
@given(st.text(max_size=80))
def test_any_date_parses_or_is_none(text):
    assert parse_date(text) is None or parse_date(text).tzinfo is not None


@FUZZ
@given(st.text(max_size=60), st.text(alphabet="abc.xyz", max_size=30))
def test_any_wildmat_is_checked_and_matches_without_surprises(pattern, name):
    try:
        check_wildmat(pattern)
    except WildmatError:
        with pytest.raises(WildmatError):
            wildmat_match(pattern, name)
        return
    assert wildmat_match(pattern, name) in (True, False)


@FUZZ
@given(st.from_regex(r"[a-z][a-z0-9]{0,8}(\.[a-z][a-z0-9]{0,8}){0,3}", fullmatch=True))
def test_a_group_name_matches_itself_as_a_wildmat(name):
    assert wildmat_match(name, name)
    assert not wildmat_match("!" + name, name)


# --------------------------------------------------------------------------- servers, command by command

def reply_code(sock_file) -> int:
    """One reply, multi-line replies included ("NNN-" ... "NNN "); its code."""
    first = sock_file.readline(100_000)
    assert first, "the server closed the connection"
    if first[3:4] == b"-":
        while not sock_file.readline(100_000).startswith(first[:3] + b" "):
            pass
    return int(first[:3])


NNTP_BLOCKS = {100, 101, 215, 220, 221, 222, 224, 225, 230, 231}    # a data block follows, up to "."


@pytest.fixture(scope="module")
def news_server(tmp_path_factory):
    from newslab import RunningServer
    server = RunningServer(tmp_path_factory.mktemp("news") / "spool")
    yield server
    server.stop()


@FUZZ
@given(command_lines("nntp"))
def test_nntp_answers_every_command_line_with_a_code(news_server, lines):
    with Records("news-server") as log, socket.create_connection(("127.0.0.1", news_server.port), timeout=10) as s:
        f = s.makefile("rb")
        assert reply_code(f) in (200, 201)
        for line in lines:
            s.sendall(line.encode("utf-8", "surrogateescape") + b"\r\n")
            code = reply_code(f)
            assert 100 <= code < 600 and code != 403, (line, code)       # 403: an internal fault
            if code in NNTP_BLOCKS or (code == 211 and line.split()[0].upper() == "LISTGROUP"):
                while f.readline(1_000_000).rstrip(b"\r\n") != b".":
                    pass
            if code in (205, 400):
                break
        s.sendall(b"QUIT\r\n")
    assert not log.problems(), log.problems()


@pytest.fixture(scope="module")
def mail_lab(tmp_path_factory):
    from mail_peers import MailLab
    lab = MailLab(tmp_path_factory.mktemp("mail"))
    yield lab
    lab.close()


@FUZZ
@given(command_lines("smtp"))
def test_smtp_answers_every_command_line_with_a_code(mail_lab, lines):
    with Records("mail-smtpd", "mail.log") as log, \
            socket.create_connection(("127.0.0.1", mail_lab.smtp_port), timeout=10) as s:
        f = s.makefile("rb")
        assert reply_code(f) == 220
        for line in lines:
            if line.split()[0].upper() == "DATA":
                line = "NOOP"                          # DATA would wait for a message
            s.sendall(line.encode("utf-8", "surrogateescape") + b"\r\n")
            line_reply = f.readline(100_000)
            if not line_reply:                        # "too many bogus commands": goodbye
                break
            while line_reply[3:4] == b"-":
                line_reply = f.readline(100_000)
            code = int(line_reply[:3])
            assert 200 <= code < 600 and code != 451, (line, line_reply)  # 451: our internal error
    assert not log.problems(), log.problems()


@pytest.fixture(scope="module")
def ftp_server(tmp_path_factory):
    from ftp_support import running
    from socklab.services.ftp import server as ftp_module
    make_large = ftp_module.seed.make_large_file
    ftp_module.seed.make_large_file = lambda *a, **k: None
    try:
        with running(tmp_path_factory.mktemp("ftp")) as server:
            yield server
    finally:
        ftp_module.seed.make_large_file = make_large


@FUZZ
@given(st.booleans(), command_lines("ftp"))
def test_ftp_answers_every_command_line_with_a_code(ftp_server, logged_in, lines):
    from ftp_support import PASSWORD, USER
    with Records("pyftpdlib", "ftp") as log, socket.create_connection(ftp_server.address, timeout=10) as s:
        f = s.makefile("rb")
        assert reply_code(f) == 220
        if logged_in:
            s.sendall(f"USER {USER}\r\nPASS {PASSWORD}\r\n".encode())
            assert reply_code(f) == 331 and reply_code(f) == 230
        for line in lines:
            if line.split()[0].upper() in ("USER", "PASS", "ACCT", "SMNT"):
                line = "NOOP"            # a wrong password would wait auth_failed_delay
            s.sendall(line.encode("utf-8", "surrogateescape") + b"\r\n")
            code = reply_code(f)
            assert 200 <= code < 600, (line, code)
    assert not log.problems(), log.problems()


def test_threads_are_not_left_behind():
    """(the servers of this module stop with it; nothing here may leak a thread)"""
    assert threading.active_count() < 50
