"""The mail clients: mail-send against the in-process SMTP server; IMAP and message helpers.

pop3-client and imap-client need Dovecot, so they are tested across the lab
(tests/integration/test_mail.py); their pure helpers are tested here.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import hashlib
import io

import pytest
from mail_peers import MailLab

from socklab.clients import imap_client, mail_common, mail_send


@pytest.fixture
def lab(tmp_path, monkeypatch):
    lab = MailLab(tmp_path)
    # the clients use ssl.create_default_context(): make it trust this test's CA, as the lab
    # image makes it trust the lab CA
    monkeypatch.setenv("SSL_CERT_FILE", str(lab.ca))
    yield lab
    lab.close()


def send(lab, capsys, *argv) -> tuple[int, str, str]:
    code = mail_send.main(["--host", "127.0.0.1", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- mail-send

def test_submission_with_attachment_and_chinese_subject(lab, capsys, tmp_path):
    attachment = tmp_path / "数据.bin"
    attachment.write_bytes(bytes(range(256)) * 40)
    code, out, err = send(lab, capsys, "--port", str(lab.submission_port), "--login", "--starttls",
                          "-u", "alice", "-p", "password", "--to", "bob@lab.test",
                          "-s", "你好, Bob", "-b", "正文 body", "-a", str(attachment))
    assert code == 0, err
    assert out.startswith(f"accepted by 127.0.0.1:{lab.submission_port} for bob@lab.test")
    stored = lab.mda.messages("bob@lab.test")
    assert len(stored) == 1
    assert b"\xe4\xbd" not in stored[0].split(b"\r\n\r\n", 1)[0]     # headers are 7-bit: encoded words
    msg = email.message_from_bytes(stored[0], policy=email.policy.default)
    assert msg["Subject"] == "你好, Bob"
    assert msg["From"] == "alice@lab.test"
    assert msg["Message-ID"] in out
    assert msg.get_body(("plain",)).get_content().strip() == "正文 body"
    [part] = list(msg.iter_attachments())
    assert part.get_filename() == "数据.bin"
    assert hashlib.sha256(part.get_payload(decode=True)).digest() == hashlib.sha256(attachment.read_bytes()).digest()


def test_port_465_mode(lab, capsys):
    code, out, err = send(lab, capsys, "--port", str(lab.submissions_port), "--ssl", "--login",
                          "-u", "bob@lab.test", "-p", "secret", "--to", "alice@lab.test", "-b", "hi")
    assert code == 0, err
    assert len(lab.mda.messages("alice@lab.test")) == 1


def test_port_25_mode_needs_no_login_and_can_send_raw(lab, capsys, tmp_path):
    raw = tmp_path / "msg.eml"
    raw.write_bytes(b"From: someone@example.com\r\nSubject: raw\r\n\r\nsent as it is\r\n")
    code, out, err = send(lab, capsys, "--port", str(lab.smtp_port), "--from", "someone@example.com",
                          "--to", "alice@lab.test", "--raw", str(raw))
    assert code == 0, err
    assert lab.mda.messages("alice@lab.test")[0].endswith(raw.read_bytes())


def test_trace_shows_the_dialogue_on_stderr(lab, capsys):
    code, out, err = send(lab, capsys, "--port", str(lab.smtp_port), "--trace", "--to", "bob@lab.test", "-b", "x")
    assert code == 0
    assert "send: 'ehlo client.lab.test\\r\\n'" in err and "reply: b'250" in err
    assert "send:" not in out


@pytest.mark.parametrize("argv, expected", [
    (["-p", "wrong"], "login refused: 535 5.7.8"),
    (["--to", "x@example.com"], "every recipient was refused: x@example.com: 554 5.7.1"),
    (["--to", "zed@lab.test"], "zed@lab.test: 550 5.1.1"),
    (["--from", "bob@lab.test"], "MAIL FROM:<bob@lab.test> refused: 553 5.7.1"),
    (["-a", "BIG"], "MAIL FROM:<alice@lab.test> refused: 552"),
])
def test_refusals_are_one_line_with_the_servers_words(lab, capsys, tmp_path, argv, expected):
    if "BIG" in argv:                                   # over the test server's 100 kB limit
        (tmp_path / "big.bin").write_bytes(b"x" * 150_000)
        argv = ["-a", str(tmp_path / "big.bin")]
    base = ["--port", str(lab.submission_port), "--login", "--starttls", "-u", "alice", "-p", "password", "-b", "x"]
    if "--to" not in argv:
        base += ["--to", "bob@lab.test"]
    code, out, err = send(lab, capsys, *base, *argv)
    assert code == 1
    assert err.startswith("mail-send: ") and expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_untrusted_certificate_is_refused(lab, capsys, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")
    code, out, err = send(lab, capsys, "--port", str(lab.submissions_port), "--ssl", "--to", "bob@lab.test", "-b", "x")
    assert code == 1 and "certificate" in err and "not trusted" in err


def test_nobody_listening(capsys):
    code, out, err = send(None, capsys, "--port", "1", "--to", "bob@lab.test", "-b", "x")
    assert code == 1 and "connection refused" in err


# --------------------------------------------------------------------------- showing messages

def test_show_message_decodes_and_saves(tmp_path):
    msg = email.message.EmailMessage()
    msg["From"] = "张三 <zhang@lab.test>"
    msg["Subject"] = "周报"
    msg.set_content("本周完成了……")
    msg.add_attachment(b"\x00\x01binary", maintype="application", subtype="octet-stream", filename="../报告.bin")
    out = io.StringIO()
    mail_common.show_message(msg.as_bytes(policy=email.policy.SMTP), save_to=str(tmp_path / "att"), out=out)
    text = out.getvalue()
    assert "From: 张三 <zhang@lab.test>" in text and "Subject: 周报" in text and "本周完成了……" in text
    assert "\r" not in text                                                    # lines, not the wire's CRLF
    assert "[attachment ../报告.bin: application/octet-stream, 8 bytes, saved as" in text
    assert (tmp_path / "att" / "报告.bin").read_bytes() == b"\x00\x01binary"     # never outside DIR


# --------------------------------------------------------------------------- IMAP helpers

@pytest.mark.parametrize("plain, wire", [
    ("INBOX", "INBOX"),
    ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),             # RFC 3501 5.1.3
    ("R&D", "R&-D"),
    ("已发送", "&XfJT0ZAB-"),
])
def test_modified_utf7(plain, wire):
    assert imap_client.encode_mailbox(plain) == wire
    assert imap_client.decode_mailbox(wire) == plain


def test_list_reply_lines():
    assert imap_client.parse_list_line(b'(\\HasNoChildren \\Sent) "/" Sent') == (["\\HasNoChildren", "\\Sent"], "/", "Sent")
    assert imap_client.parse_list_line(b'(\\HasNoChildren) "/" "&XfJT0ZAB-"')[2] == "已发送"
    assert imap_client.parse_list_line(b'() NIL "a \\"b\\""')[2] == 'a "b"'


def test_bodystructure_parts():
    # RFC 3501's own example
    data = (b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)'
            b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" '
            b'"Compiler diff" "BASE64" 4554 73) "MIXED")')
    parts = imap_client.mime_parts(imap_client.tokens(data))
    assert parts == [("", "multipart/mixed", "", None),
                     ("1", "text/plain", "", 1152),
                     ("2", "text/plain", "cc.diff", 4554)]


def test_bodystructure_with_nesting_literals_and_rfc2231_names():
    data = (b'((("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 10 1 NIL NIL NIL NIL)'
            b'("text" "html" ("charset" "utf-8") NIL NIL "8bit" 30 1 NIL NIL NIL NIL) "alternative" '
            b'("boundary" "b2") NIL NIL NIL)'
            b'("application" "pdf" NIL NIL NIL "base64" 1000 NIL ("attachment" ("filename*" '
            b"\"utf-8''%E6%8A%A5%E5%91%8A.pdf\")) NIL NIL)"
            b'("image" "png" ("name" {9}\r\nlogo .png) NIL NIL "base64" 20 NIL NIL NIL NIL) "mixed" ("boundary" "b1") NIL NIL NIL)')
    parts = imap_client.mime_parts(imap_client.tokens(data))
    assert [(p[0], p[1], p[2]) for p in parts] == [
        ("", "multipart/mixed", ""), ("1", "multipart/alternative", ""),
        ("1.1", "text/plain", ""), ("1.2", "text/html", ""),
        ("2", "application/pdf", "报告.pdf"), ("3", "image/png", "logo .png")]


def test_single_part_message_is_part_1():
    parts = imap_client.mime_parts(imap_client.tokens(b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 1)'))
    assert parts == [("1", "text/plain", "", 5)]


def test_dates_and_uid_sets():
    assert imap_client.imap_date("2024-05-01") == "01-May-2024"
    with pytest.raises(argparse.ArgumentTypeError):
        imap_client.imap_date("1/5/2024")
    for good in ("5", "5,7", "1:*", "3:5,9"):
        assert imap_client.uid_set(good) == good
    for bad in ("", "a", "5;rm", "1 2"):
        with pytest.raises(argparse.ArgumentTypeError):
            imap_client.uid_set(bad)
