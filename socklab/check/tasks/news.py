"""Checks of the news exercises (chapter part 2.2): reading and posting with nntplib.

The checker talks to the lab's news server (``news:119``) with its own nntplib session:
before a run it posts fresh articles (random subjects and bodies, to ``lab.test`` only),
and after a run it compares what the program printed with what the server holds at that
moment, or fetches the article the program posted and looks at its headers and body.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import email.utils
import re
import warnings
from dataclasses import dataclass
from email.message import EmailMessage

from socklab.i18n import N_, _
from socklab.check.framework import (CheckFailed, ClientRun, ClientTask, Context, check, sentence, shorten,
                                     token)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)     # 3.11-3.12: "slated for removal"
    try:
        import nntplib
    except ImportError:                                     # 3.13+: pip install standard-nntplib
        nntplib = None

NEWS, PORT = "news", 119
GROUP = "lab.test"
OTHER_GROUP = "comp.lang.python"      # seeded, 34 articles: the chapter's own group
TIMEOUT = 10.0
RUN_TIMEOUT = 20.0
MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")


# --------------------------------------------------------------------------- helpers

def connect():
    """The checker's own session with the news server, or a clear CheckFailed."""
    if nntplib is None:
        raise CheckFailed(_("the module nntplib in the checker's Python"), _("it is missing"), "")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return nntplib.NNTP(NEWS, PORT, timeout=TIMEOUT)
    except (nntplib.NNTPError, OSError, EOFError) as exc:
        raise CheckFailed(_("the news server {host}:{port} to answer").format(host=NEWS, port=PORT),
                          _("connecting failed: {error}; is the lab up? (make lab)").format(error=exc), "")


@contextlib.contextmanager
def session():
    s = connect()
    try:
        yield s
    except (nntplib.NNTPError, OSError, EOFError) as exc:
        raise CheckFailed(_("the checker's own NNTP session to work"),
                          _("it failed: {error}").format(error=f"{type(exc).__name__}: {exc}"), "") from None
    finally:
        try:
            s.quit()
        except Exception:  # noqa: BLE001 - the server may have dropped us already
            with contextlib.suppress(Exception):
                s.sock.close()


def body_text() -> list[str]:
    """A few fresh body lines, one of them Chinese (so printing bytes instead of text shows)."""
    return [f"{sentence(3)} {token(6)}", f"你好, 新闻组 {token(6)} 网络编程", f"{token(5)} 套接字 {sentence(2)}"]


def post(s, subject: str, body: list[str], group: str = GROUP) -> str:
    """Post an article with the checker's session; return its message-id."""
    msg = EmailMessage()
    msg["From"] = "lab-check <lab-check@lab.test>"
    msg["Newsgroups"] = group
    msg["Subject"] = subject
    msg["Message-ID"] = email.utils.make_msgid("check", domain="lab.test")
    msg.set_content("\n".join(body) + "\n", cte="8bit")
    s.post(msg.as_bytes())
    return msg["Message-ID"]


def decoded(raw: str) -> str:
    """A header value with RFC 2047 encoded words decoded (as a reader shows it)."""
    try:
        return str(email.policy.default.header_factory("subject", raw))
    except Exception:  # noqa: BLE001 - a malformed header is shown as it is
        return raw


def squeeze(value: str) -> str:
    return " ".join(value.split())


def header(lines: list[bytes], name: str) -> str | None:
    """The raw (unfolded) value of header *name* in the head *lines*, or None."""
    fields: list[str] = []
    for line in lines:
        text = line.decode("utf-8", "surrogateescape")
        if text[:1] in (" ", "\t") and fields:
            fields[-1] += text
        else:
            fields.append(text)
    for field in fields:
        key, colon, value = field.partition(":")
        if colon and key.strip().lower() == name.lower():
            return value.strip()
    return None


def body_lines(head: list[bytes], body: list[bytes]) -> list[str]:
    """The text of a plain article's body: transfer encoding undone, decoded by its charset."""
    msg = email.message_from_bytes(b"\n".join(head) + b"\n\n" + b"\n".join(body) + b"\n",
                                   policy=email.policy.compat32)
    if msg.is_multipart():
        return ["(multipart)"]
    payload = msg.get_payload(decode=True) or b""
    charset = msg.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, "replace")
    except LookupError:
        text = payload.decode("utf-8", "replace")
    return meaningful(text.splitlines())


def meaningful(lines) -> list[str]:
    return [line.strip() for line in lines if line.strip()]


def in_order(output: str, wanted: list[str]) -> str | None:
    """None if every line of *wanted* is in a line of *output*, in this order; else the first missing."""
    lines = output.splitlines()
    at = 0
    for want in wanted:
        while at < len(lines) and want not in lines[at]:
            at += 1
        if at == len(lines):
            return want
        at += 1
    return None


def shown(output: str, number: int, subject: str) -> bool:
    """Does a line of *output* show article *number* with *subject* (raw or decoded)?"""
    forms = {s for s in (subject.strip(), squeeze(decoded(subject))) if s}
    number_re = re.compile(rf"(?<!\d){number}(?!\d)")
    return any(number_re.search(line) and any(f in line or f in squeeze(line) for f in forms)
               for line in output.splitlines())


def ended(run: ClientRun) -> str:
    if run.timed_out:
        return _("(your program was stopped after {s:g} s)").format(s=RUN_TIMEOUT)
    if run.traceback:
        lines = [line for line in run.stderr.strip().splitlines() if line.strip()]
        return _("(your program ended with a traceback: {line})").format(line=shorten(lines[-1], 160))
    return ""


def fail(run: ClientRun, expected: str, seen: str) -> None:
    raise CheckFailed(expected, f"{seen} {ended(run)}".strip(), run.output)


# --------------------------------------------------------------------------- 10-nntp-last-ten

@dataclass
class ListRun:
    group: str
    window: list[tuple[int, str]]       # the last ten (number, raw subject) when the program ran
    before: list[tuple[int, str]]       # the articles before them
    chosen: int                         # the article number given on the second line
    body: list[str]                     # its body lines
    run: ClientRun


class NntpLastTen(ClientTask):
    name = "10-nntp-last-ten"
    program = "client.py"
    section = "2.2.3"
    title = N_("the chapter's nntplib reader: the last ten subjects, then one article's body")

    def list_run(self, ctx: Context, group: str, fresh: int = 0) -> ListRun:
        with session() as s:
            for _n in range(fresh):
                post(s, f"{sentence(3)} {token(8)}", body_text(), group)
            _resp, _count, first, last, _name = s.group(group)
            _resp, subjects = s.xhdr("subject", f"{first}-{last}")
            articles = [(int(n), v) for n, v in subjects]
            window, before = articles[-10:], articles[:-10]
            readable = []
            for number, _subject in window:
                _resp, info = s.body(str(number))
                try:
                    readable.append((number, meaningful(b"\n".join(info.lines).decode("utf-8").splitlines())))
                except UnicodeDecodeError:
                    continue
            if not readable:
                raise CheckFailed(_("an article with a text body in {group}").format(group=group), _("none"), "")
            chosen, body = ctx.random.choice(readable[-fresh:] if fresh else readable)
        run = ctx.run_client(stdin=f"{group}\n{chosen}\n", timeout=RUN_TIMEOUT)
        return ListRun(group, window, before, chosen, body, run)

    def lab_test(self, ctx: Context) -> ListRun:
        return self.once("lab.test", lambda: self.list_run(ctx, GROUP, fresh=12))

    def the_last_ten(self, m: ListRun) -> None:
        missing = [f"{n} {decoded(s)}" for n, s in m.window if not shown(m.run.stdout, n, s)]
        window_subjects = {squeeze(decoded(s)) for _n, s in m.window}
        extra = [f"{n} {decoded(s)}" for n, s in m.before
                 if squeeze(decoded(s)) not in window_subjects and shown(m.run.stdout, n, s)]
        first, last = m.window[0][0], m.window[-1][0]
        expected = _("the numbers and subjects of the last ten articles of {group}, {first}-{last}").format(
            group=m.group, first=first, last=last)
        if missing:
            fail(m.run, expected, _("{count} not printed, e.g. {article}").format(
                count=len(missing), article=shorten(missing[-1], 120)))
        if extra:
            fail(m.run, expected, _("also printed: {article}").format(article=shorten(extra[-1], 120)))

    def the_body(self, m: ListRun) -> None:
        missing = in_order(m.run.stdout, m.body)
        if missing is not None:
            fail(m.run, _("the body of article {number} of {group}, as text").format(number=m.chosen, group=m.group),
                 _("this line is not printed: {line}").format(line=shorten(missing, 120)))

    @check(N_("prints the numbers and subjects of exactly the last ten articles"),
           hint=N_("group() gives first and last; xhdr('subject', '%d-%d' % (first, last)) lists every "
                   "article: print the last ten of that list (subs[-10:]), each with its number."))
    def last_ten(self, ctx) -> None:
        self.the_last_ten(self.lab_test(ctx))

    @check(N_("prints the body of the article whose number it reads"),
           hint=N_("Read the number with input(), then body(number): its lines are bytes, print each one "
                   "decoded (line.decode('utf-8')), not as b'...'."))
    def reads_body(self, ctx) -> None:
        self.the_body(self.lab_test(ctx))

    @check(N_("the same for the group comp.lang.python, named on the first line"),
           hint=N_("Take the group's name from the first line of input (input()), not from a constant."))
    def other_group(self, ctx) -> None:
        m = self.list_run(ctx, OTHER_GROUP)
        self.the_last_ten(m)
        self.the_body(m)


# --------------------------------------------------------------------------- 11-nntp-post

@dataclass
class PostRun:
    subject: str
    body: list[str]
    run: ClientRun
    printed: list[str]              # message-ids the program printed
    message_id: str | None          # the id of its article on the server (found by id or by content)
    head: list[bytes]
    lines: list[str]                # its body, decoded


class NntpPost(ClientTask):
    name = "11-nntp-post"
    program = "post.py"
    section = "2.2.4"
    title = N_("post an article with nntplib, then read it back by its message-id")

    def posted(self, ctx: Context) -> PostRun:
        return self.once("post", lambda: self.post_once(ctx))

    def post_once(self, ctx: Context) -> PostRun:
        subject = f"{token(5)} 网络新闻 {token(6)} 测试"
        body = body_text()
        with session():
            pass                        # the server answers: a failure below is the program's
        run = ctx.run_client(stdin=subject + "\n" + "\n".join(body) + "\n\n", timeout=RUN_TIMEOUT)
        printed = list(dict.fromkeys(MESSAGE_ID.findall(run.stdout)))
        mark = body[0].split()[-1]
        with session() as s:
            for mid in printed:
                try:
                    _resp, head = s.head(mid)
                    _resp, text = s.body(mid)
                except nntplib.NNTPError:
                    continue
                lines = body_lines(head.lines, text.lines)
                if any(mark in line for line in lines):
                    return PostRun(subject, body, run, printed, mid, head.lines, lines)
            # not printed (or not found by what it printed): look for it among the newest articles
            _resp, _count, first, last, _name = s.group(GROUP)
            for number in range(last, max(first, last - 30) - 1, -1):
                try:
                    _resp, text = s.body(str(number))
                except nntplib.NNTPError:
                    continue
                if any(mark.encode() in line for line in text.lines):
                    _resp, head = s.head(str(number))
                    return PostRun(subject, body, run, printed, text.message_id, head.lines,
                                   body_lines(head.lines, text.lines))
        return PostRun(subject, body, run, printed, None, [], [])

    def found(self, m: PostRun) -> None:
        if m.message_id is None:
            fail(m.run, _("an article in {group} with the subject and body your program read").format(group=GROUP),
                 _("there is none on the server"))

    @check(N_("the article is in lab.test with From, Newsgroups and the body"),
           hint=N_("An article needs From (with an address), Newsgroups and Subject headers, a blank line, "
                   "then the body; post() it as bytes and catch nntplib's errors (441: what the server refused)."))
    def posted_article(self, ctx) -> None:
        m = self.posted(ctx)
        self.found(m)
        groups = [g.strip() for g in (header(m.head, "Newsgroups") or "").split(",")]
        if GROUP not in groups:
            fail(m.run, _("Newsgroups: {group}").format(group=GROUP), ", ".join(groups) or _("none"))
        sender = header(m.head, "From") or ""
        if not re.search(r"[^\s@<>]+@[^\s@<>]+", sender):
            fail(m.run, _("a From header with an address"), sender or _("none"))
        if m.lines != meaningful(m.body):
            fail(m.run, _("the body: {lines}").format(lines=" / ".join(m.body)),
                 shorten(" / ".join(m.lines), 300) or _("an empty body"))

    @check(N_("the Chinese subject is MIME-encoded and decodes to the line read"),
           hint=N_("Non-ASCII header text travels as encoded words (=?utf-8?b?...?=): build the article "
                   "with email.message.EmailMessage (or email.header.Header) and send msg.as_bytes()."))
    def chinese_subject(self, ctx) -> None:
        m = self.posted(ctx)
        self.found(m)
        raw = header(m.head, "Subject")
        if raw is None:
            fail(m.run, _("a Subject header"), _("none"))
        if not raw.isascii():
            fail(m.run, _("a Subject of ASCII characters only, with encoded words for the Chinese text"),
                 _("raw 8-bit text: {raw}").format(raw=shorten(raw.encode("utf-8", "surrogateescape")
                                                             .decode("utf-8", "replace"), 120)))
        if squeeze(decoded(raw)) != squeeze(m.subject):
            fail(m.run, _("the subject {subject}").format(subject=m.subject),
                 _("{raw}, which decodes to {text}").format(raw=shorten(raw, 120), text=shorten(decoded(raw), 120)))

    @check(N_("prints the message-id and the article as read back from the server"),
           hint=N_("Print the message-id (the one you set, or the one in post()'s 240 reply), then "
                   "article(message_id) and print its lines decoded: the server added headers such as "
                   "Injection-Date."))
    def reads_back(self, ctx) -> None:
        m = self.posted(ctx)
        self.found(m)
        if m.message_id not in m.run.stdout:
            fail(m.run, _("the message-id {mid} printed").format(mid=m.message_id),
                 _("printed: {ids}").format(ids=", ".join(m.printed) or _("no message-id")))
        stamp = header(m.head, "Injection-Date")
        if stamp and stamp not in m.run.stdout:
            fail(m.run, _("the article as the server has it, with its header Injection-Date: {date}").format(
                     date=stamp),
                 _("not printed: the article was not read back from the server"))
        missing = in_order(m.run.stdout.split(m.message_id, 1)[-1], m.lines)
        if missing is not None:
            fail(m.run, _("the body read back, printed as text"),
                 _("this line is not printed: {line}").format(line=shorten(missing, 120)))
