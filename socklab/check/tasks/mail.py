"""Checks of the e-mail exercises (chapter part 3): smtplib, poplib and imaplib.

The student's programs are mail user agents (MUA) on the client host; the host ``mail``
is the MTA (SMTP on 25, submission on 587) and the MDA (Dovecot: POP3 on 110, IMAP on 143).
The checker looks at what changed **on the server**, with its own sessions: it delivers
fresh messages through port 25 (no login: local recipients), and reads and cleans the
mailboxes through IMAP (STARTTLS, then login), as the lab's accounts alice and bob.

Other checks use the same mailboxes (one after another, never at the same time), so every
message of a check is found by a fresh random word in its subject, never by its position.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import email.utils
import imaplib
import poplib
import random
import re
import smtplib
import os
import ssl
from email.message import EmailMessage

from socklab.i18n import N_, _
from socklab.check.framework import CheckFailed, ClientRun, ClientTask, check, sentence, shorten, token
from socklab.clients.imap_client import decode_mailbox, encode_mailbox

MAIL_HOST = "mail"
DOMAIN = "lab.test"
# the lab's accounts, as compose.yaml gives them to the mail host and the client (user:password ...)
ACCOUNTS = dict(item.split(":", 1) for item in os.environ.get(
    "MAIL_ACCOUNTS", "alice:password bob:password").split() if ":" in item)


def password(user: str) -> str:
    return ACCOUNTS.get(user.split("@")[0], "password")

SENDER = f"teacher@{DOMAIN}"    # who the checker's own messages are from (port 25 takes any)
TIMEOUT = 10.0                  # seconds, for every socket of the checker
RUN_TIMEOUT = 30.0              # seconds a student's program may take

WORDS = ["网络编程", "电子邮件", "作业", "套接字", "客户端", "服务器", "附件", "报告", "实验", "协议"]


def fresh_subject(word: str) -> str:
    """A fresh subject in Chinese around *word* (the random word the checker finds it by)."""
    pick = random.SystemRandom().sample(WORDS, 3)
    return f"{pick[0]}{pick[1]} {word} {pick[2]}"


# --------------------------------------------------------------------------- IMAP's folder names

# encode_mailbox / decode_mailbox (modified UTF-7) come from imap-client: one implementation

def list_name(line: bytes) -> str:
    """The (still encoded) folder name in one LIST reply line: ``(\\HasNoChildren) "/" "Name"``."""
    m = re.fullmatch(rb'\([^)]*\) (?:NIL|"(?:[^"\\]|\\.)*") (.+)', line)
    name = (m.group(1) if m else line).decode("utf-8", "surrogateescape")
    if name.startswith('"') and name.endswith('"'):
        name = re.sub(r'\\(.)', r"\1", name[1:-1])
    return name


def quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------- messages

def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def raw_header(raw: bytes, name: str) -> bytes | None:
    """The header *name* as it travelled (folded lines joined), or None."""
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    m = re.search(rb"^" + re.escape(name.encode()) + rb":(.*(?:\r?\n[ \t].*)*)", head, re.M | re.I)
    return m.group(1).strip() if m else None


def subject_of(msg: email.message.EmailMessage) -> str:
    try:
        return str(msg["Subject"] or "")
    except (ValueError, TypeError, LookupError):
        return ""


def squeeze(text: str) -> str:
    return " ".join(text.split())


def addresses(msg: email.message.EmailMessage, name: str) -> list[str]:
    return [addr.lower() for _n, addr in email.utils.getaddresses([str(v) for v in msg.get_all(name, [])])]


# --------------------------------------------------------------------------- the student's run

KNOWN_ERRORS = [
    ("SMTP AUTH extension not supported", N_("the server offers AUTH only after STARTTLS: call starttls() "
                                              "(and ehlo() again) before login()")),
    ("Authentication required", N_("the submission port wants login() before sendmail()")),
    ("sender address not owned", N_("after login('alice', ...) the sender must be alice@lab.test")),
    ("Plaintext authentication disallowed", N_("the server takes passwords only inside TLS: stls()/starttls() "
                                                "before logging in")),
    ("PRIVACYREQUIRED", N_("the server takes passwords only inside TLS: stls()/starttls() before logging in")),
    ("CERTIFICATE_VERIFY_FAILED", N_("check the server's certificate with ssl.create_default_context(), "
                                     "which trusts the lab CA, and connect to the name mail")),
    ("codec can't encode", N_("imaplib and smtplib send commands in ASCII: a Chinese folder name must be "
                              "written in modified UTF-7, a Chinese subject as an encoded word")),
    ("not valid mUTF-7", N_("IMAP folder names travel in modified UTF-7 (RFC 3501 5.1.3)")),
]


def last_line(run: ClientRun) -> str:
    lines = [line.strip() for line in run.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def how_it_ended(run: ClientRun) -> str:
    """One sentence on how the program ended, with a word on errors students meet often."""
    if run.timed_out:
        return _("your program was still running after {s:g} s and was stopped").format(s=RUN_TIMEOUT)
    line = shorten(last_line(run), 200)
    if run.returncode:
        said = _("your program ended with exit status {code}: {line}").format(code=run.returncode,
                                                                                line=line or _("(nothing on stderr)"))
    elif line:
        said = _("your program ended normally, its last error line: {line}").format(line=line)
    else:
        said = _("your program ended normally")
    for words, why in KNOWN_ERRORS:
        if words.lower() in (run.stderr + run.stdout).lower():
            return said + " (" + _(why) + ")"
    return said


def out_lines(run: ClientRun) -> list[str]:
    return [line.strip() for line in run.stdout.splitlines() if line.strip()]


def numbers(line: str) -> list[int]:
    """The whole numbers in *line* (not digits inside a word like a1b2, nor in 1.5)."""
    return [int(n) for n in re.findall(r"(?<![A-Za-z0-9_.])\d+(?![A-Za-z0-9_]|\.\d)", line)]


# --------------------------------------------------------------------------- the checker's own sessions

class Mailbox:
    """The checker's own IMAP session as *user*: port 143, STARTTLS, login (a context manager)."""

    def __init__(self, user: str) -> None:
        self.user = user
        try:
            self.imap = imaplib.IMAP4(MAIL_HOST, 143, timeout=TIMEOUT)
        except OSError as exc:
            raise CheckFailed(_("the lab's IMAP server {host}:143 to answer the checker").format(host=MAIL_HOST),
                              _("it does not ({error}); is the lab up? (make lab)").format(error=exc))
        try:
            self.imap.starttls(ssl_context=ssl.create_default_context())
            self.imap.login(user, password(user))
        except (OSError, imaplib.IMAP4.error) as exc:
            self.close()
            raise CheckFailed(_("the checker to log in to IMAP as {user}").format(user=user),
                              _("it could not: {error}").format(error=exc))

    def __enter__(self) -> "Mailbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.imap.logout()
        with contextlib.suppress(Exception):
            self.imap.shutdown()

    def select(self, mailbox: str = "INBOX") -> bool:
        typ, _data = self.imap.select(quoted(encode_mailbox(mailbox)))
        return typ == "OK"

    def search(self, word: str, mailbox: str = "INBOX", *criteria: str) -> list[bytes]:
        """UIDs of the messages in *mailbox* whose subject contains *word* ([] if no such folder)."""
        if not self.select(mailbox):
            return []
        typ, data = self.imap.uid("SEARCH", *criteria, "SUBJECT", quoted(word))
        if typ != "OK":
            return []
        return (data[0] or b"").split()

    def fetch(self, uid: bytes) -> bytes:
        typ, data = self.imap.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
        for item in data if typ == "OK" else []:
            if isinstance(item, tuple):
                return item[1]
        return b""

    def remove(self, uids: list[bytes]) -> None:
        """Delete these messages of the selected folder for good."""
        if uids:
            self.imap.uid("STORE", b",".join(uids).decode(), "+FLAGS.SILENT", r"(\Deleted)")
            self.imap.expunge()

    def forget(self, *words: str) -> None:
        """Delete from INBOX every message whose subject contains one of *words* (cleaning up)."""
        for word in words:
            self.remove(self.search(word))

    def folders(self) -> list[str]:
        """Every folder's name, decoded from modified UTF-7."""
        typ, data = self.imap.list('""', "*")
        return [decode_mailbox(list_name(line)) for line in (data if typ == "OK" else []) if isinstance(line, bytes)]

    def raw_folders(self) -> list[str]:
        typ, data = self.imap.list('""', "*")
        return [list_name(line) for line in (data if typ == "OK" else []) if isinstance(line, bytes)]

    def delete_folder(self, encoded: str) -> None:
        with contextlib.suppress(Exception):
            self.imap.unsubscribe(quoted(encoded))
        with contextlib.suppress(Exception):
            self.imap.delete(quoted(encoded))


def tidy(user: str, *words: str) -> None:
    """Clean up after a check, quietly: the check's result is already decided."""
    with contextlib.suppress(CheckFailed, OSError, imaplib.IMAP4.error):
        with Mailbox(user) as box:
            box.forget(*words)


def deliver(to: str, subject: str, body: str) -> None:
    """Put a fresh message into *to*'s INBOX through port 25 (no login needed for @lab.test).

    The lab's SMTP server answers 250 only once Dovecot has stored it: no waiting needed.
    """
    msg = EmailMessage()
    msg["From"] = f"Teacher <{SENDER}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=DOMAIN)
    msg.set_content(body)
    try:
        with smtplib.SMTP(MAIL_HOST, 25, timeout=TIMEOUT) as smtp:
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise CheckFailed(_("the lab's SMTP server {host}:25 to take the checker's message for {to}").format(
                              host=MAIL_HOST, to=to),
                          _("it did not: {error}; is the lab up? (make lab)").format(error=exc))


def pop3_listing(user: str) -> tuple[int, dict[int, int]]:
    """The checker's own POP3 view of *user*'s mailbox: (count, {number: size})."""
    try:
        pop = poplib.POP3(MAIL_HOST, 110, timeout=TIMEOUT)
    except OSError as exc:
        raise CheckFailed(_("the lab's POP3 server {host}:110 to answer the checker").format(host=MAIL_HOST),
                          _("it does not ({error}); is the lab up? (make lab)").format(error=exc))
    try:
        pop.stls(ssl.create_default_context())
        pop.user(user)
        pop.pass_(password(user))
        count, _size = pop.stat()
        _resp, lines, _octets = pop.list()
        sizes = {}
        for line in lines:
            n, size = line.split()[:2]
            sizes[int(n)] = int(size)
        pop.quit()
        return count, sizes
    except (OSError, poplib.error_proto, ValueError) as exc:
        raise CheckFailed(_("the checker to read {user}'s mailbox with POP3").format(user=user),
                          _("it could not: {error}").format(error=exc))
    finally:
        with contextlib.suppress(Exception):
            pop.close()


# --------------------------------------------------------------------------- 12: smtplib

class SmtpSend(ClientTask):
    name = "12-smtp-send"
    program = "send.py"
    section = "3"
    title = N_("sending a message with an attachment with smtplib")

    def send(self, ctx) -> tuple[ClientRun, dict]:
        """Run send.py with a fresh subject, body and attachment; return the run and what bob got."""
        word = token(10)
        subject = fresh_subject(word)
        body = sentence(5)
        data = bytes(ctx.random.getrandbits(8) for _n in range(ctx.random.randint(3000, 9000)))
        (ctx.scratch / "attachment.bin").write_bytes(data)
        run = ctx.run_client(stdin=f"{subject}\n{body}\n\n", timeout=RUN_TIMEOUT)
        with Mailbox("bob") as box:
            uids = box.search(word)
            raws = [box.fetch(uid) for uid in uids]
            box.remove(uids)                    # read, then cleaned away: bob's INBOX stays small
        if not raws:
            raise CheckFailed(_("a message in bob's INBOX whose subject contains {word}").format(word=word),
                              _("none arrived: {how}").format(how=how_it_ended(run)), run.output)
        if len(raws) > 1:
            raise CheckFailed(_("one message for each run of your program"),
                              _("{n} messages with that subject arrived").format(n=len(raws)), run.output)
        return run, {"subject": subject, "body": body, "data": data, "raw": raws[0], "msg": parse(raws[0])}

    @check(N_("a message from alice@lab.test reaches bob's INBOX, with the text of stdin's second line"),
           hint=N_("Port 587: SMTP('mail', 587), ehlo(), starttls(context=ssl.create_default_context()), ehlo(), "
                   "login('alice', 'password'), then sendmail('alice@lab.test', ['bob@lab.test'], msg.as_string())."))
    def delivered(self, ctx) -> None:
        run, got = self.send(ctx)
        msg = got["msg"]
        sender = addresses(msg, "From")
        if sender != [f"alice@{DOMAIN}"]:
            raise CheckFailed(_("the header From: alice@lab.test"),
                              _("From: {value}").format(value=shorten(str(msg.get("From", _("(none)"))), 120)),
                              run.output)
        if f"bob@{DOMAIN}" not in addresses(msg, "To"):
            raise CheckFailed(_("the header To: bob@lab.test"),
                              _("To: {value}").format(value=shorten(str(msg.get("To", _("(none)"))), 120)),
                              run.output)
        text = ""
        with contextlib.suppress(Exception):
            part = msg.get_body(preferencelist=("plain", "html"))
            text = part.get_content() if part is not None else ""
        if got["body"] not in squeeze(text):
            raise CheckFailed(_("a text part with {body!r}").format(body=got["body"]),
                              _("the text is {text!r}").format(text=shorten(squeeze(text), 120)), run.output)

    @check(N_("the Chinese subject is encoded (=?utf-8?...?=) and reads back unchanged"),
           hint=N_("Header lines are ASCII (RFC 5322) and this server offers no SMTPUTF8: let the email package "
                   "encode the subject (msg['Subject'] = Header(subject, 'utf-8'), or just msg['Subject'] = "
                   "subject on a MIMEMultipart); never write the header text by hand."))
    def chinese_subject(self, ctx) -> None:
        run, got = self.send(ctx)
        header = raw_header(got["raw"], "Subject") or b""
        if any(b > 127 for b in header):
            shown = header.decode("utf-8", "replace")
            raise CheckFailed(_("the subject as RFC 2047 encoded words, in ASCII (=?utf-8?b?...?=)"),
                              _("raw 8-bit bytes in the header: Subject: {value} (a reader that follows "
                                "RFC 5322 shows them garbled)").format(value=shorten(shown, 120)), run.output)
        seen = subject_of(got["msg"])
        if squeeze(seen) != squeeze(got["subject"]):
            raise CheckFailed(_("the subject {subject!r}").format(subject=got["subject"]),
                              _("{seen!r} (as it travelled: {raw})").format(
                                  seen=seen, raw=shorten(header.decode("ascii", "replace"), 120)), run.output)

    @check(N_("the file attachment.bin is attached, byte for byte"),
           hint=N_("Read the file in binary mode ('rb') and attach it as application/octet-stream with its "
                   "name: MIMEApplication(data, Name='attachment.bin') with a Content-Disposition attachment "
                   "header, or msg.add_attachment(data, maintype='application', subtype='octet-stream', "
                   "filename='attachment.bin')."))
    def attachment(self, ctx) -> None:
        run, got = self.send(ctx)
        msg, data = got["msg"], got["data"]
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            name = part.get_filename()
            payload = part.get_payload(decode=True) or b""
            if name or part.get_content_maintype() != "text":
                parts.append((name, part.get_content_type(), payload))
        for name, _ctype, payload in parts:
            if payload == data:
                if name != "attachment.bin":
                    raise CheckFailed(_("the attachment named attachment.bin"),
                                      _("the right bytes, named {name!r}").format(name=name), run.output)
                return
        if not parts:
            seen = _("no attachment (the message has no part but its text)")
        else:
            seen = "; ".join(_("{name}: {ctype}, {size} bytes, not the file's").format(
                name=name or _("(no name)"), ctype=ctype, size=len(payload)) for name, ctype, payload in parts)
        raise CheckFailed(_("an attachment attachment.bin of {size} bytes, equal to the file").format(size=len(data)),
                          seen, run.output)


# --------------------------------------------------------------------------- 13: poplib

class Pop3Read(ClientTask):
    name = "13-pop3-read"
    program = "pop3.py"
    section = "3"
    title = N_("reading and deleting a message with poplib")

    def read(self, ctx) -> tuple[ClientRun, dict]:
        """Deliver three fresh messages to bob, run pop3.py for the middle one, see what is left."""
        words = [token(10) for _n in range(3)]
        subjects = [fresh_subject(word) for word in words]
        for subject in subjects:
            deliver(f"bob@{DOMAIN}", subject, sentence(6))
        count, sizes = pop3_listing("bob")
        target = 1                              # the middle one: not first, not last
        try:
            run = ctx.run_client(stdin=f"{words[target]}\n\n", timeout=RUN_TIMEOUT)
            with Mailbox("bob") as box:
                left = [bool(box.search(word)) for word in words]
        finally:
            tidy("bob", *words)
        return run, {"words": words, "subjects": subjects, "target": target, "count": count, "sizes": sizes,
                     "left": left}

    @check(N_("prints the number of messages (stat) first, then the list (list) with each size"),
           hint=N_("stat() returns (count, size) and list() returns (response, [b'1 1234', ...], octets): print "
                   "the count as the first line, then each entry of the list decoded."))
    def prints_count(self, ctx) -> None:
        run, got = self.read(ctx)
        lines = [line for line in out_lines(run) if numbers(line)]
        if not lines:
            raise CheckFailed(_("a first line with the number of messages, {count}").format(count=got["count"]),
                              _("no number printed: {how}").format(how=how_it_ended(run)), run.output)
        first = numbers(lines[0])[0]
        if first != got["count"]:
            raise CheckFailed(_("a first line with the number of messages, {count}").format(count=got["count"]),
                              _("the first number printed is {n}: {line}").format(
                                  n=first, line=shorten(lines[0], 120)), run.output)
        missing = [f"{n} {size}" for n, size in sorted(got["sizes"].items())[-3:]
                   if not re.search(rf"(?<!\d){n}\D{{1,3}}{size}(?!\d)", run.stdout)]
        if missing:
            raise CheckFailed(_("the list with a line per message, number and size, e.g. {line}").format(
                                  line=missing[0]),
                              _("not printed: {lines}").format(lines=", ".join(missing)), run.output)

    @check(N_("prints the decoded subject of the message chosen by stdin's word"),
           hint=N_("The subject travels encoded (=?utf-8?b?...?=): parse the lines of retr() or top() with "
                   "email.message_from_bytes(b'\\r\\n'.join(lines)) and decode it with "
                   "email.header.decode_header() (or policy=email.policy.default)."))
    def prints_subject(self, ctx) -> None:
        run, got = self.read(ctx)
        subject = got["subjects"][got["target"]]
        if squeeze(subject) not in squeeze(run.stdout):
            encoded = "=?utf-8?" in run.stdout.lower()
            seen = (_("the subject printed still encoded: {how}") if encoded
                    else _("it is not in the output: {how}")).format(how=how_it_ended(run))
            raise CheckFailed(_("the subject {subject!r} in the output").format(subject=subject), seen, run.output)

    @check(N_("deletes exactly that message: dele() then quit(), the others stay"),
           hint=N_("Find the message's number by its subject (top(n, 0) for n in 1..count), dele(n) with that "
                   "same number, and end with quit(): POP3 removes deleted messages only at QUIT."))
    def deletes_that_message(self, ctx) -> None:
        run, got = self.read(ctx)
        target, left, subjects = got["target"], got["left"], got["subjects"]
        gone_others = [subjects[i] for i, there in enumerate(left) if not there and i != target]
        if left[target]:
            if gone_others:
                why = _("it is still there")
            elif squeeze(subjects[target]) in squeeze(run.stdout):
                why = _("it is still there (deletions count only after quit())")
            else:
                why = _("it is still there, and its subject was not printed: was it found? (the subject "
                        "travels encoded: decode it before looking for the word)")
            seen = why + ("; " + _("deleted instead: {others}").format(others=", ".join(gone_others))
                          if gone_others else "") + "; " + how_it_ended(run)
            raise CheckFailed(_("the message {subject!r} deleted from bob's mailbox").format(subject=subjects[target]),
                              seen, run.output)
        if gone_others:
            raise CheckFailed(_("only the message {subject!r} deleted").format(subject=subjects[target]),
                              _("also deleted: {others}").format(others=", ".join(gone_others)), run.output)


# --------------------------------------------------------------------------- 14: imaplib

class ImapFolders(ClientTask):
    name = "14-imap-folders"
    program = "imap.py"
    section = "3"
    title = N_("a Chinese folder and moving messages with imaplib")

    def move(self, ctx) -> tuple[ClientRun, dict]:
        """Deliver fresh messages to alice (some with the word), run imap.py, see where they are."""
        word = token(10)
        folder = f"作业-{token(6)}"
        moving = [fresh_subject(word) for _n in range(ctx.random.randint(1, 3))]
        others = [token(10) for _n in range(2)]
        staying = [fresh_subject(other) for other in others]
        for subject in moving + staying:
            deliver(f"alice@{DOMAIN}", subject, sentence(6))
        encoded = encode_mailbox(folder)
        try:
            run = ctx.run_client(stdin=f"{folder}\n{word}\n\n", timeout=RUN_TIMEOUT)
            with Mailbox("alice") as box:
                folders = box.folders()
                raw_folders = box.raw_folders()
                inbox = box.search(word)
                inbox_deleted = box.search(word, "INBOX", "DELETED")
                inbox_others = [bool(box.search(other)) for other in others]
                moved = box.search(word, folder) if folder in folders else []
        finally:
            with contextlib.suppress(CheckFailed, OSError, imaplib.IMAP4.error):
                with Mailbox("alice") as box:
                    box.forget(word, *others)
                    for name in box.raw_folders():
                        if name == encoded or decode_mailbox(name) == folder or folder[3:] in name:
                            box.delete_folder(name)
        return run, {"folder": folder, "word": word, "count": len(moving), "others": staying,
                     "folders": folders, "raw_folders": raw_folders, "inbox": inbox,
                     "inbox_deleted": inbox_deleted, "inbox_others": inbox_others, "moved": moved}

    @check(N_("creates the folder named on stdin's first line, Chinese name intact"),
           hint=N_("imaplib sends ASCII only: encode the name in modified UTF-7 (RFC 3501 5.1.3: runs of "
                   "non-ASCII characters as '&' + base64 of their UTF-16-BE bytes with ',' for '/' and no '=' + "
                   "'-'), e.g. 作业-x is &T1xOGg--x; then imap.create(encoded)."))
    def creates_folder(self, ctx) -> None:
        run, got = self.move(ctx)
        if got["folder"] not in got["folders"]:
            near = [name for name in got["raw_folders"] if got["folder"][3:] in name]
            seen = (_("a folder {names!r} instead").format(names=", ".join(near)) if near
                    else _("no such folder: {how}").format(how=how_it_ended(run)))
            raise CheckFailed(_("a folder {folder!r} (on the wire {encoded})").format(
                                  folder=got["folder"], encoded=encode_mailbox(got["folder"])), seen, run.output)

    @check(N_("moves the messages whose subject has stdin's word, and only those, out of INBOX"),
           hint=N_("select('INBOX'), search(None, 'SUBJECT', word), then for those numbers copy() to the new "
                   "folder, store(n, '+FLAGS', '\\\\Deleted') and expunge() at the end (or the MOVE command)."))
    def moves_messages(self, ctx) -> None:
        run, got = self.move(ctx)
        folder, count = got["folder"], got["count"]
        if got["folder"] not in got["folders"]:
            near = [name for name in got["raw_folders"] if got["folder"][3:] in name]
            seen = (_("there is no folder {folder} (your program made {names!r})").format(
                        folder=folder, names=", ".join(near)) if near
                    else _("there is no folder {folder}: {how}").format(folder=folder, how=how_it_ended(run)))
            raise CheckFailed(_("{count} message(s) with {word} in the folder {folder}").format(
                                  count=count, word=got["word"], folder=folder), seen, run.output)
        if len(got["moved"]) != count:
            raise CheckFailed(_("{count} message(s) with {word} in the folder {folder}").format(
                                  count=count, word=got["word"], folder=folder),
                              _("{n} there: {how}").format(n=len(got["moved"]), how=how_it_ended(run)), run.output)
        if got["inbox"]:
            seen = (_("still in INBOX, flagged \\Deleted but not expunged (call expunge())")
                    if len(got["inbox_deleted"]) == len(got["inbox"])
                    else _("{n} of them still in INBOX").format(n=len(got["inbox"])))
            raise CheckFailed(_("the messages with {word} no longer in INBOX").format(word=got["word"]), seen,
                              run.output)
        gone = [s for s, there in zip(got["others"], got["inbox_others"]) if not there]
        if gone:
            raise CheckFailed(_("the other messages left in INBOX"),
                              _("gone from INBOX: {subjects}").format(subjects=", ".join(gone)), run.output)

    @check(N_("prints how many messages were moved, on its last line"),
           hint=N_("search() returns (typ, [b'3 5 8']): the number of messages moved is len(data[0].split())."))
    def prints_count(self, ctx) -> None:
        run, got = self.move(ctx)
        lines = out_lines(run)
        last = numbers(lines[-1]) if lines else []
        if not last or last[0] != got["count"]:
            raise CheckFailed(_("a last line with the number of messages moved, {count}").format(count=got["count"]),
                              (_("the last line: {line}").format(line=shorten(lines[-1], 120)) if lines
                               else _("nothing printed: {how}").format(how=how_it_ended(run))), run.output)
