"""The pure helpers of the e-mail exercises' checks (socklab/check/tasks/mail.py)."""

from __future__ import annotations

import email.header

import pytest

from socklab.check.tasks.mail import decode_mailbox, encode_mailbox, list_name, numbers, raw_header


@pytest.mark.parametrize("name, wire", [
    ("INBOX", "INBOX"),
    ("作业-x", "&T1xOGg--x"),
    ("已发送", "&XfJT0ZAB-"),
    ("a&b", "a&-b"),
    ("作业 2024/网络", "&T1xOGg- 2024/&f1F+3A-"),
])
def test_modified_utf7_both_ways(name, wire):
    assert encode_mailbox(name) == wire
    assert decode_mailbox(wire) == name


def test_a_name_that_is_not_modified_utf7_stays():
    assert decode_mailbox("+T1xOGg--x") == "+T1xOGg--x"
    assert decode_mailbox("&!!!-") == "&!!!-"


def test_list_name():
    assert list_name(b'(\\HasNoChildren) "/" &T1xOGg--abc') == "&T1xOGg--abc"
    assert list_name(b'(\\HasNoChildren \\Sent) "/" "My \\"mail\\""') == 'My "mail"'
    assert list_name(b'(\\Noselect) NIL "x y"') == "x y"


def test_raw_header_joins_folded_lines_and_keeps_bytes():
    encoded = email.header.Header("网络编程 abc 作业" * 3, "utf-8").encode()
    raw = (f"From: a@lab.test\r\nSubject: {encoded}\r\nTo: b@lab.test\r\n\r\nSubject: not this\r\n").encode()
    got = raw_header(raw, "subject")
    assert got.startswith(b"=?utf-8?") and b"not this" not in got
    assert raw_header("Subject: 作业\n\nbody".encode(), "Subject") == "作业".encode()
    assert raw_header(b"From: x\r\n\r\n", "Subject") is None


def test_numbers():
    assert numbers("5 messages, 4096 bytes") == [5, 4096]
    assert numbers("共3封邮件") == [3]
    assert numbers("moved 2 to 作业-a1b2") == [2]
    assert numbers("(b'+OK', [b'1 465'])") == [1, 465]
    assert numbers("version 1.5") == []
