"""What a new spool starts with: three groups and a few dozen articles to read.

* ``comp.lang.python`` -- discussion about Python, 34 articles in 13 threads.  Replies
  carry ``References`` (so ``news-client thread`` can follow them), some subjects and
  names are not ASCII and travel as RFC 2047 *encoded words*
  (``=?utf-8?b?...?=``), and one article is a multi-part MIME message with a Python
  file attached.
* ``lab.announce`` -- announcements; read-only (flag ``n``): ``POST`` to it gets ``441``.
* ``lab.test`` -- anyone may post here.

The articles are built with the standard :mod:`email` package, which is also how a
client would build them: it encodes non-ASCII headers and assembles MIME parts.  The
seed is the same on every lab (fixed dates and message-ids), so a teacher's notes about
"article 12" are true everywhere.  It is written only on the very first start: once the
spool has an ``active`` file, the server never seeds it again.
"""

from __future__ import annotations

import email.message
import email.policy
import email.utils
from datetime import datetime, timedelta, timezone

from socklab.services.news.article import Article, format_date
from socklab.services.news.spool import Spool

GROUPS = [
    # name, flag, description
    ("comp.lang.python", "y", "Discussion about the Python programming language."),
    ("lab.announce", "n", "Announcements about the socklab lab (read-only)."),
    ("lab.test", "y", "Test postings: anyone may post here, try it."),
]

PEOPLE = {
    "mei": ("Mei Chen", "mei.chen@lab.test"),
    "raj": ("Raj Patel", "raj@lab.test"),
    "sofia": ("Sofia Rossi", "sofia@lab.test"),
    "tom": ("Tom Baker", "tbaker@lab.test"),
    "anna": ("Anna Kowalska", "anna.k@lab.test"),
    "jf": ("Jean-François Dupont", "jf.dupont@lab.test"),
    "wang": ("王小明", "xiaoming@lab.test"),
    "jonas": ("Jonas Müller", "jonas@lab.test"),
    "lab": ("socklab", "news@lab.test"),
}

START = datetime(2024, 3, 4, 8, 30, tzinfo=timezone.utc)

# One thread per entry: (slug, subject, [(key, author, parent key or None, hours after
# the start of the thread, body), ...]).  A reply's subject is "Re: " + the subject.
THREADS = [
    ("images", "manually sorting images?", [
        ("q", "tom", None, 0,
         "I have a folder with ~2000 holiday photos named IMG_0001.JPG and so on.\n"
         "Is there a simple way to sort them by the date they were taken instead of\n"
         "by name?  I'd like to rename them 2023-08-14_001.jpg etc."),
        ("a1", "sofia", "q", 2,
         "The date is in the EXIF data.  Pillow can read it:\n\n"
         "    from PIL import Image\n"
         "    taken = Image.open(path).getexif().get(306)   # DateTime\n\n"
         "Collect (taken, path) pairs, sort them, then os.rename() in that order."),
        ("a2", "tom", "a1", 5,
         "> Collect (taken, path) pairs, sort them, then os.rename() in that order.\n\n"
         "Works, thanks!  Three photos had no EXIF at all; I used os.path.getmtime()\n"
         "for those."),
    ]),
    ("recv", "socket.recv() returns less data than I sent", [
        ("q", "raj", None, 0,
         "My client does sock.send(data) with 10000 bytes, but on the server one\n"
         "sock.recv(10000) only gives me 1448 bytes.  Is the network losing data?"),
        ("a1", "anna", "q", 1,
         "No: TCP is a byte stream, not a message protocol.  recv() returns whatever\n"
         "has arrived so far, at most the size you asked for.  Loop until you have\n"
         "all the bytes you expect, or put a length prefix in front of each message."),
        ("a2", "raj", "a1", 3,
         "So the server needs to know how long the message is?  What do protocols\n"
         "like NNTP do then?"),
        ("a3", "anna", "a2", 4,
         "They use lines: every command and reply ends with CRLF, and a multi-line\n"
         "answer ends with a line holding a single dot.  Read with\n"
         "sock.makefile('rb').readline() and the buffering is done for you."),
    ]),
    ("nntplib", "nntplib removed in Python 3.13?", [
        ("q", "jonas", None, 0,
         "The docs say nntplib was deprecated in 3.11 and removed in 3.13 (PEP 594).\n"
         "Our course still uses it.  What should we do?"),
        ("a1", "mei", "q", 2,
         "On 3.13 and later, `pip install standard-nntplib` gives you the very same\n"
         "module, still importable as `import nntplib`."),
        ("a2", "jonas", "a1", 6,
         "Perfect, the lab's news-client does exactly that.  Thanks!"),
    ]),
    ("umlaut", "Umlaute im Betreff: äöü ß", [
        ("q", "jonas", None, 0,
         "Does this subject arrive correctly?  My newsreader says it sends it as an\n"
         "\"encoded word\"."),
        ("a1", "anna", "q", 1,
         "It does.  On the wire it is =?utf-8?...?= and nntplib.decode_header()\n"
         "turns it back into äöü ß."),
    ]),
    ("gbk", "Python 中文编码问题", [
        ("q", "wang", None, 0,
         "我从 socket 收到的是 GBK 编码的字节, 用 data.decode() 就报 UnicodeDecodeError。\n"
         "(I receive GBK-encoded bytes from a socket and data.decode() fails.)"),
        ("a1", "mei", "q", 1,
         "decode() uses UTF-8 unless told otherwise.  Try data.decode('gbk'), and if\n"
         "a message may be cut in the middle of a character, use an incremental\n"
         "decoder: codecs.getincrementaldecoder('gbk')()."),
        ("a2", "wang", "a1", 2,
         "谢谢! data.decode('gbk') 可以了。(Thanks, that works.)"),
    ]),
    ("cafe", "Café script – naïve résumé parsing", [
        ("q", "jf", None, 0,
         "I read CVs (résumés) with open(path).read() and get mojibake like\n"
         "'rÃ©sumÃ©'.  What am I doing wrong?"),
        ("a1", "sofia", "q", 3,
         "The files are UTF-8 but your system's default encoding is not.  Always say\n"
         "which one you mean: open(path, encoding='utf-8')."),
    ]),
    ("attach", "[ANN] a tiny echo server, file attached", [
        ("q", "mei", None, 0, None),        # the multi-part MIME article, built below
        ("a1", "raj", "q", 4,
         "Nice and short.  One remark: use `with conn:` so the socket is closed even\n"
         "when the client resets the connection."),
    ]),
    ("chat", "socketserver or asyncio for a small chat server?", [
        ("q", "sofia", None, 0,
         "For a class exercise: a chat server with maybe 30 clients.  socketserver\n"
         "with ThreadingMixIn, or asyncio?"),
        ("a1", "tom", "q", 1,
         "30 clients is nothing; ThreadingTCPServer is simplest to explain: one\n"
         "thread per connection, blocking calls everywhere."),
        ("a2", "anna", "q", 2,
         "asyncio scales better and there are no locks to think about, but students\n"
         "must understand await first."),
        ("a3", "sofia", "a2", 5,
         "We'll start with threads and show asyncio as the second version then."),
    ]),
    ("main", "What does if __name__ == '__main__' do?", [
        ("q", "raj", None, 0,
         "I see this at the bottom of every script.  Why not just call main()?"),
        ("a1", "jonas", "q", 1,
         "__name__ is '__main__' only when the file is run as a script.  When it is\n"
         "imported, the test is false and main() does not run, so other code can\n"
         "import its functions without side effects."),
        ("a2", "raj", "a1", 2,
         "Got it: that is why the lab's servers can be started as commands and also\n"
         "imported by the tests."),
    ]),
    ("ftp425", "ftplib: 425 Can't open data connection", [
        ("q", "tom", None, 0,
         "ftp.retrlines('LIST') hangs and then fails with 425.  Login works fine."),
        ("a1", "mei", "q", 2,
         "Classic active-mode problem: the server cannot connect back to you through\n"
         "the NAT.  ftp.set_pasv(True) (the default since Python 2.1) and make sure\n"
         "the server's passive port range is reachable."),
    ]),
    ("listcomp", "List comprehension vs map()", [
        ("q", "anna", None, 0,
         "Which is more pythonic: [f(x) for x in xs] or list(map(f, xs))?"),
        ("a1", "jf", "q", 1,
         "With an existing function, map() reads fine.  As soon as you need a lambda,\n"
         "the comprehension is clearer: [x * 2 for x in xs]."),
        ("a2", "wang", "a1", 3,
         "And a generator expression (x * 2 for x in xs) when you only iterate once."),
    ]),
    ("timeout", "Reading a file line by line with a timeout", [
        ("q", "jonas", None, 0,
         "sock.makefile('rb').readline() blocks forever if the peer stops sending.\n"
         "sock.settimeout(30) before makefile() is enough, it turns out: readline()\n"
         "then raises TimeoutError.  Posting it here for the archive."),
    ]),
    ("gen", "Generators explained in one paragraph?", [
        ("q", "sofia", None, 0,
         "Looking for a short explanation of `yield` for beginners."),
        ("a1", "tom", "q", 2,
         "A function with `yield` returns a generator; each next() runs it until the\n"
         "next yield and hands out that value.  Its local variables survive between\n"
         "the calls, so it remembers where it was."),
    ]),
]

ECHO_SERVER = '''\
"""A tiny TCP echo server: what you send is what you get back."""
import socket

with socket.create_server(("", 7777)) as server:
    while True:
        conn, peer = server.accept()
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data)
'''

ANNOUNCEMENTS = [
    ("welcome", "Welcome to the socklab news server",
     "This is an NNTP server (RFC 3977) for the lab, on host `news`, port 119.\n\n"
     "Groups:\n"
     "  comp.lang.python   discussion about Python (read and post)\n"
     "  lab.announce       announcements like this one (read-only)\n"
     "  lab.test           try posting here\n\n"
     "From the client host:\n"
     "  news-client                     the last ten subjects of comp.lang.python\n"
     "  news-client groups              every group\n"
     "  news-client read 3              article 3 of comp.lang.python\n"
     "  news-client post --group lab.test --subject hello -m 'my first post'\n"
     "  telnet news 119                 talk NNTP yourself (type HELP, then QUIT)\n\n"
     "Logging in is optional: AUTHINFO USER student / AUTHINFO PASS password."),
    ("rules", "lab.announce is read-only",
     "Posting to lab.announce is refused with 441 (its flag in LIST ACTIVE is n).\n"
     "Use lab.test for experiments and comp.lang.python for questions."),
    ("exercise", "Exercise: write your own news reader",
     "Use nntplib to:\n"
     "  1. connect to news and select comp.lang.python (NNTP.group);\n"
     "  2. print the subjects of the last ten articles (NNTP.xhdr);\n"
     "  3. ask for an article number and print its body (NNTP.body);\n"
     "  4. decode encoded-word subjects with nntplib.decode_header().\n"
     "Then run your reader with tcpdump in another window and find the commands."),
]


def _address(key: str) -> str:
    name, addr = PEOPLE[key]
    return email.utils.formataddr((name, addr), charset="utf-8")


def _message(*, author: str, group: str, subject: str, msgid: str, when: datetime,
             references: list[str], body: str | None) -> email.message.EmailMessage:
    msg = email.message.EmailMessage()
    msg["From"] = _address(author)
    msg["Newsgroups"] = group
    msg["Subject"] = subject
    msg["Date"] = format_date(when)
    msg["Message-ID"] = msgid
    if references:
        msg["References"] = " ".join(references)
    msg["Path"] = "news.lab.test!not-for-mail"
    if body is not None:
        msg.set_content(body + "\n", cte="8bit" if not body.isascii() else "7bit")
    return msg


def _attachment_article(msg: email.message.EmailMessage) -> None:
    """Turn *msg* into the multi-part MIME article: text plus a Python file."""
    msg.set_content(
        "Here is the echo server from today's class, about ten lines.  Run it with\n"
        "`python3 echo_server.py` and try it with `nc localhost 7777`.\n\n"
        "The file is attached (MIME, text/x-python); a reader that knows MIME shows\n"
        "it as an attachment, a plain one shows the boundary lines.\n")
    msg.add_attachment(ECHO_SERVER, subtype="x-python", filename="echo_server.py")
    msg.set_boundary("=_socklab_seed_attachment")


def articles() -> list[tuple[datetime, Article]]:
    """Every seed article with its date, oldest first."""
    built: list[tuple[datetime, Article]] = []
    for index, (slug, subject, posts) in enumerate(THREADS):
        start = START + timedelta(days=index // 2, hours=(index % 2) * 5)
        ids: dict[str, str] = {}
        refs: dict[str, list[str]] = {}
        for key, author, parent, hours, body in posts:
            msgid = f"<{slug}.{key}@lab.test>"
            ids[key] = msgid
            refs[key] = [] if parent is None else refs[parent] + [ids[parent]]
            when = start + timedelta(hours=hours, minutes=7 * len(refs[key]))
            msg = _message(author=author, group="comp.lang.python",
                           subject=subject if parent is None else f"Re: {subject}",
                           msgid=msgid, when=when, references=refs[key], body=body)
            if body is None:
                _attachment_article(msg)
            built.append((when, _article(msg)))
    for index, (slug, subject, body) in enumerate(ANNOUNCEMENTS):
        when = START - timedelta(days=1) + timedelta(minutes=10 * index)
        msg = _message(author="lab", group="lab.announce", subject=subject,
                       msgid=f"<announce.{slug}@lab.test>", when=when, references=[], body=body)
        built.append((when, _article(msg)))
    msg = _message(author="lab", group="lab.test", subject="test, please ignore",
                   msgid="<test.first@lab.test>", when=START - timedelta(hours=1), references=[],
                   body="The first post in lab.test.  Yours comes next.")
    built.append((START - timedelta(hours=1), _article(msg)))
    return sorted(built, key=lambda pair: pair[0])


def _article(msg: email.message.EmailMessage) -> Article:
    # policy.default folds long headers and writes non-ASCII ones as encoded words
    return Article.from_bytes(msg.as_bytes(policy=email.policy.default.clone(linesep="\n")))


def seed(spool: Spool, created: float | None = None) -> int:
    """Create the groups and store the seed articles; return how many were stored."""
    for name, flag, description in GROUPS:
        if spool.group(name) is None:
            spool.create_group(name, flag=flag, description=description, created=created)
    count = 0
    for _, article in articles():
        if spool.entry_by_id(article.get("Message-ID")) is None:
            spool.store(article, [article.get("Newsgroups")])
            count += 1
    return count
