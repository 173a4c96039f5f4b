"""The mail host's SMTP server (services/mail/smtp.py) in this process, with an LMTP peer.

Policy (relay, recipients, submission identity, AUTH), limits, TLS on each port, a 250 that
follows the store, and bad input -- each checked with smtplib or raw bytes on the wire.
"""

from __future__ import annotations

import base64
import os
import smtplib
import socket
import ssl
import threading
import time

import pytest
from mail_peers import MailLab

MESSAGE = (b"From: alice@lab.test\r\nTo: bob@lab.test\r\nSubject: unit\r\n"
           b"Message-ID: <unit-1@lab.test>\r\n\r\nhello\r\n")


@pytest.fixture
def lab(tmp_path):
    lab = MailLab(tmp_path)
    yield lab
    lab.close()


def smtp(lab: MailLab, port: int | None = None) -> smtplib.SMTP:
    s = smtplib.SMTP("127.0.0.1", port or lab.smtp_port, local_hostname="client.test", timeout=10)
    s.ehlo()
    return s


def submission(lab: MailLab, user: str = "alice", password: str = "password") -> smtplib.SMTP:
    s = smtp(lab, lab.submission_port)
    s.starttls(context=lab.client_tls())
    s.ehlo()
    s.login(user, password)
    return s


def raw(lab: MailLab, port: int | None = None) -> "Raw":
    return Raw(("127.0.0.1", port or lab.smtp_port))


class Raw:
    """SMTP by hand: send lines, read whole replies (multi-line included)."""

    def __init__(self, address) -> None:
        self.sock = socket.create_connection(address, timeout=10)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> str:
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                lines.append("<closed>")
                break
            lines.append(line.decode().rstrip("\r\n"))
            if line[3:4] != b"-":
                break
        return "\n".join(lines)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, line: str) -> str:
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


# --------------------------------------------------------------------------- port 25

def test_mail_for_the_domain_is_stored_before_the_250(lab):
    with smtp(lab) as s:
        refused = s.sendmail("someone@example.com", ["bob@lab.test"], MESSAGE)
        # the reply has arrived: the message must already be in the mailbox
        stored = lab.mda.messages("bob@lab.test")
    assert refused == {}
    assert len(stored) == 1
    assert stored[0].endswith(MESSAGE)
    received = stored[0].split(b"\r\n", 3)
    assert received[0].startswith(b"Received: from client.test ([127.0.0.1])")
    assert b"with ESMTP id" in received[1]
    assert b"for <bob@lab.test>" in received[2]


def test_several_recipients_each_get_the_message_once(lab):
    with smtp(lab) as s:
        s.sendmail("x@example.com", ["alice@lab.test", "bob@lab.test", "Bob@LAB.test"], MESSAGE)
    assert len(lab.mda.messages("alice@lab.test")) == 1
    assert len(lab.mda.messages("bob@lab.test")) == 2          # named twice, delivered twice
    assert lab.mda.transactions == 3                           # one LMTP transaction per recipient


@pytest.mark.parametrize("rcpt", ["someone@example.com", "bob@sub.lab.test", "bob@lab.test.evil.com"])
def test_never_an_open_relay(lab, rcpt):
    conn = raw(lab)
    conn.command("EHLO client.test")
    assert conn.command("MAIL FROM:<alice@lab.test>").startswith("250")
    reply = conn.command(f"RCPT TO:<{rcpt}>")
    assert reply.startswith("554 5.7.1"), reply
    assert "Relay access denied" in reply
    assert conn.command("DATA").startswith("503")            # no recipient: no data
    conn.close()


def test_unknown_mailbox_gets_the_mdas_550(lab):
    with smtp(lab) as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
            s.sendmail("x@example.com", ["zed@lab.test"], MESSAGE)
    code, text = err.value.recipients["zed@lab.test"]
    assert code == 550 and text.startswith(b"5.1.1")


def test_a_local_part_alone_is_not_an_address(lab):
    conn = raw(lab)
    conn.command("EHLO client.test")
    conn.command("MAIL FROM:<x@example.com>")
    assert conn.command("RCPT TO:<bob>").startswith("553 5.1.3")
    conn.close()


def test_port_25_offers_starttls_but_no_auth(lab):
    with smtp(lab) as s:
        assert s.has_extn("starttls")
        assert not s.has_extn("auth")
        s.starttls(context=lab.client_tls())
        s.ehlo()
        assert not s.has_extn("auth")
        assert s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice\0password").decode())[0] == 503
        s.sendmail("x@example.com", ["alice@lab.test"], MESSAGE)
    assert b"with ESMTPS id" in lab.mda.messages("alice@lab.test")[0]


def test_one_lmtp_connection_serves_message_after_message(lab):
    for n in range(3):
        with smtp(lab) as s:
            s.sendmail("x@example.com", ["bob@lab.test", "alice@lab.test"], MESSAGE)
    assert len(lab.mda.messages("bob@lab.test")) == 3 and len(lab.mda.messages("alice@lab.test")) == 3
    assert len(lab.lmtp_sessions) == 1          # 6 recipient checks and 6 deliveries on it


def test_a_kept_lmtp_connection_the_mda_closed_is_replaced_nothing_lost_or_doubled(lab):
    with smtp(lab) as s:
        s.sendmail("x@example.com", ["bob@lab.test"], MESSAGE)
    lab.restart_lmtp()
    with smtp(lab) as s:
        assert s.sendmail("x@example.com", ["bob@lab.test"], MESSAGE) == {}
    assert len(lab.mda.messages("bob@lab.test")) == 2 and len(lab.lmtp_sessions) == 2


def test_kept_lmtp_connections_end_when_unused(lab):
    with smtp(lab) as s:
        s.sendmail("x@example.com", ["bob@lab.test"], MESSAGE)
    delivery = lab.server.delivery
    assert delivery.kept == 1 and delivery.close_idle() == 0        # just used
    delivery.idle = 0.0
    assert delivery.close_idle() == 1 and delivery.kept == 0
    deadline = time.monotonic() + 5
    while lab.lmtp_sessions[0].transport is not None and time.monotonic() < deadline:   # the MDA saw QUIT
        time.sleep(0.01)
    assert lab.lmtp_sessions[0].transport is None


def test_the_mda_down_is_a_temporary_failure(lab):
    lab.stop_lmtp()
    conn = raw(lab)
    conn.command("EHLO client.test")
    conn.command("MAIL FROM:<x@example.com>")
    reply = conn.command("RCPT TO:<bob@lab.test>")
    assert reply.startswith("451 4.3.0"), reply
    conn.close()


# --------------------------------------------------------------------------- submission

def test_587_wants_starttls_before_anything_else(lab):
    conn = raw(lab, lab.submission_port)
    ehlo = conn.command("EHLO client.test")
    assert "STARTTLS" in ehlo and "AUTH" not in ehlo
    assert conn.command("MAIL FROM:<alice@lab.test>").startswith("530")
    assert conn.command("AUTH PLAIN " + base64.b64encode(b"\0alice\0password").decode()).startswith("530")
    conn.close()


def test_587_needs_auth_before_mail(lab):
    with smtp(lab, lab.submission_port) as s:
        s.starttls(context=lab.client_tls())
        s.ehlo()
        assert "PLAIN" in s.esmtp_features["auth"] and "LOGIN" in s.esmtp_features["auth"]
        code, text = s.mail("alice@lab.test")
        assert code == 530, text


@pytest.mark.parametrize("user", ["alice", "alice@lab.test", "ALICE@lab.test"])
def test_login_with_or_without_the_domain(lab, user):
    with submission(lab, user) as s:
        assert s.sendmail("alice@lab.test", ["bob@lab.test"], MESSAGE) == {}
    stored = lab.mda.messages("bob@lab.test")
    assert len(stored) == 1 and b"with ESMTPSA id" in stored[0]
    assert any(line.endswith("AUTH PLAIN as alice@lab.test") for line in lab.log.lines)


def test_no_deprecation_noise_in_the_log_at_auth(lab, caplog):
    with caplog.at_level("INFO", logger="mail.log"):
        with submission(lab) as s:
            s.noop()
    assert not [r for r in caplog.records if "deprecated" in r.getMessage()]


def test_auth_login_prompts_and_initial_response(lab):
    with smtp(lab, lab.submission_port) as s:
        s.starttls(context=lab.client_tls())
        s.ehlo()
        assert s.docmd("AUTH", "LOGIN") == (334, base64.b64encode(b"Username:"))
        assert s.docmd(base64.b64encode(b"bob").decode()) == (334, base64.b64encode(b"Password:"))
        code, text = s.docmd(base64.b64encode(b"secret").decode())
        assert code == 235, text
    with smtp(lab, lab.submission_port) as s:                 # AUTH LOGIN <user>: one prompt less
        s.starttls(context=lab.client_tls())
        s.ehlo()
        assert s.docmd("AUTH", "LOGIN " + base64.b64encode(b"bob@lab.test").decode())[0] == 334
        assert s.docmd(base64.b64encode(b"secret").decode())[0] == 235
    assert any(line.endswith("AUTH LOGIN as bob@lab.test") for line in lab.log.lines)


def test_a_password_is_checked_against_the_current_accounts_file(lab):
    from socklab.services.mail import accounts
    accounts.write_passwd_file(lab.passwd_file, accounts.parse("alice:changed"), "lab.test")
    with smtp(lab, lab.submission_port) as s:
        s.starttls(context=lab.client_tls())
        s.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login("alice", "password")
        s.login("alice", "changed")


def test_wrong_password_is_535_at_once(lab):
    with smtp(lab, lab.submission_port) as s:
        s.starttls(context=lab.client_tls())
        s.ehlo()
        started = time.monotonic()
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            s.login("alice", "wrong")
        elapsed = time.monotonic() - started                  # smtplib tried PLAIN, then LOGIN
        assert err.value.smtp_code == 535
        assert elapsed < 0.2, elapsed
        code, _ = s.mail("alice@lab.test")                    # still not logged in
        assert code == 530
        s.login("alice", "password")                          # a second try may succeed
    assert any(line.endswith("AUTH PLAIN failed for alice@lab.test") for line in lab.log.lines)


def test_missing_accounts_file_is_a_temporary_failure(lab):
    os.unlink(lab.passwd_file)
    with smtp(lab, lab.submission_port) as s:
        s.starttls(context=lab.client_tls())
        s.ehlo()
        code, _ = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice\0password").decode())
        assert code == 454


def test_client_may_abort_auth(lab):
    with smtp(lab, lab.submission_port) as s:
        s.starttls(context=lab.client_tls())
        s.ehlo()
        assert s.docmd("AUTH", "LOGIN")[0] == 334
        assert s.docmd("*")[0] == 501
        assert s.docmd("NOOP")[0] == 250                      # the session goes on


def test_submission_sender_must_be_the_login(lab):
    with submission(lab, "alice") as s:
        code, text = s.mail("bob@lab.test")
        assert code == 553 and b"not owned by alice@lab.test" in text
        s.rset()
        assert s.mail("alice@lab.test")[0] == 250


def test_submission_is_no_relay_either(lab):
    with submission(lab) as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
            s.sendmail("alice@lab.test", ["friend@example.com"], MESSAGE)
    assert err.value.recipients["friend@example.com"][0] == 554


def test_465_is_tls_from_the_first_byte(lab):
    with smtplib.SMTP_SSL("127.0.0.1", lab.submissions_port, local_hostname="client.test",
                          context=lab.client_tls(), timeout=10) as s:
        s.ehlo()
        assert not s.has_extn("starttls")
        assert "PLAIN" in s.esmtp_features["auth"]
        s.login("bob", "secret")
        s.sendmail("bob@lab.test", ["alice@lab.test"], MESSAGE)
    assert b"with ESMTPSA id" in lab.mda.messages("alice@lab.test")[0]


def test_465_refuses_a_client_that_does_not_trust_it(lab):
    untrusting = ssl.create_default_context()                 # the system store: not our test CA
    with pytest.raises(ssl.SSLCertVerificationError):
        smtplib.SMTP_SSL("127.0.0.1", lab.submissions_port, context=untrusting, timeout=10)


# --------------------------------------------------------------------------- limits and bad input

def test_size_declared_too_big_is_refused_at_mail_from(lab):
    with smtp(lab) as s:
        assert int(s.esmtp_features["size"]) == 100_000
        code, text = s.mail("x@example.com", ["SIZE=200000"])
        assert code == 552, text


def test_message_too_big_is_refused_after_data_and_not_stored(lab):
    conn = raw(lab)
    conn.command("EHLO client.test")
    conn.command("MAIL FROM:<x@example.com>")
    conn.command("RCPT TO:<bob@lab.test>")
    assert conn.command("DATA").startswith("354")
    conn.send(b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 150 + b".\r\n")
    assert conn.reply().startswith("552")
    assert lab.mda.messages("bob@lab.test") == []
    # the session goes on: a normal message after the refused one
    conn.command("MAIL FROM:<x@example.com>")
    conn.command("RCPT TO:<bob@lab.test>")
    conn.command("DATA")
    conn.send(b"Subject: small\r\n\r\nok\r\n.\r\n")
    assert conn.reply().startswith("250 2.0.0")
    assert len(lab.mda.messages("bob@lab.test")) == 1
    conn.close()


def test_overlong_lines_are_refused(lab):
    conn = raw(lab)
    conn.command("EHLO client.test")
    assert conn.command("NOOP " + "x" * 10_000).startswith("500")            # a 10 kB command
    conn.command("MAIL FROM:<x@example.com>")
    conn.command("RCPT TO:<bob@lab.test>")
    conn.command("DATA")
    conn.send(b"Subject: long\r\n\r\n" + b"y" * 10_000 + b"\r\n.\r\n")       # a 10 kB line of data
    assert conn.reply().startswith("500")
    assert lab.mda.messages("bob@lab.test") == []
    assert conn.command("NOOP").startswith("250")
    conn.close()


@pytest.mark.parametrize("line, code", [("MAIL FROM:<", "553"), ("RCPT TO:<", "553"), ('RCPT TO:<"', "553"),
                                        ("VRFY <", "502"), ('VRFY "', "502")])
def test_an_address_the_parser_chokes_on_is_malformed_not_an_internal_error(lab, line, code):
    conn = raw(lab)
    conn.command("EHLO client.test")
    if line.startswith("RCPT"):
        assert conn.command("MAIL FROM:<x@example.com>").startswith("250")
    assert conn.command(line)[:3] == code
    assert conn.command("NOOP").startswith("250")            # the session goes on
    conn.close()
    assert not [l for l in lab.log.lines if "unexpected error" in l], lab.log.lines


def test_garbage_commands_get_500_then_the_door(lab):
    conn = raw(lab)
    replies = [conn.command(cmd) for cmd in ("HELLO?", "\x01\x02\x7f", "GET / HTTP/1.1", "xyzzy", "FOO")]
    assert all(r.startswith(("500", "502")) for r in replies), replies
    assert replies[-1].startswith("502 5.5.1")                               # too many: goodbye
    assert conn.reply() == "<closed>"
    conn.close()
    with smtp(lab) as s:                                                     # others are served
        assert s.noop()[0] == 250


def test_client_vanishing_mid_data_delivers_nothing(lab):
    conn = raw(lab)
    conn.command("EHLO client.test")
    conn.command("MAIL FROM:<x@example.com>")
    conn.command("RCPT TO:<alice@lab.test>")
    conn.command("DATA")
    conn.send(b"Subject: half\r\n\r\nthe first half of a mess")
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    with smtp(lab) as s:                                     # the server goes on serving
        s.sendmail("x@example.com", ["alice@lab.test"], MESSAGE)
    stored = lab.mda.messages("alice@lab.test")
    assert len(stored) == 1 and stored[0].endswith(MESSAGE)


def test_pipelined_commands_are_answered_in_order(lab):
    conn = raw(lab)
    conn.command("EHLO client.test")
    conn.send(b"MAIL FROM:<x@example.com>\r\nRCPT TO:<zed@lab.test>\r\nRCPT TO:<bob@lab.test>\r\nNOOP\r\n")
    replies = [conn.reply() for _ in range(4)]
    assert [r[:3] for r in replies] == ["250", "550", "250", "250"], replies
    conn.close()


def test_stopping_waits_for_a_delivery_in_progress(tmp_path):
    lab = MailLab(tmp_path, lmtp_delay=1.0)
    result = {}

    def send() -> None:
        with smtp(lab) as s:
            result["refused"] = s.sendmail("x@example.com", ["bob@lab.test"], MESSAGE)

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 5
    while lab.mda.transactions == 0 and time.monotonic() < deadline:      # DATA has reached the MDA
        time.sleep(0.01)
    lab.close()                                                           # stop while it stores
    sender.join(10)
    assert result.get("refused") == {}                                    # the 250 was still sent
    assert len(lab.mda.messages("bob@lab.test")) == 1
