"""The helpers of the socket exercises' checks (socklab.check.tasks.sockets), without a lab."""

from __future__ import annotations

import socket

import pytest

from socklab.check.framework import CheckFailed, ClientRun
from socklab.check.tasks.sockets import (DatagramPeer, StreamPeer, expect_printed, now_stamp, printed_replies,
                                         words)


def run(stdout: str, stderr: str = "") -> ClientRun:
    return ClientRun(0, stdout, stderr, False, 0.1)


def test_replies_are_found_after_a_prompt():
    out = f"> {now_stamp(b'hello there').decode()}\n> {now_stamp('网络 编程'.encode()).decode()}\n> "
    assert [m for _s, m in printed_replies(out)] == ["hello there", "网络 编程"]
    expect_printed(run(out), ["hello there", "网络 编程"])


def test_bytes_printed_and_missing_replies_fail():
    with pytest.raises(CheckFailed, match="bytes"):
        expect_printed(run(f"b'{now_stamp(b'hi').decode()}'\n"), ["hi"])
    with pytest.raises(CheckFailed, match="missing"):
        expect_printed(run(now_stamp(b"one").decode() + "\n"), ["one", "two"])
    with pytest.raises(CheckFailed, match="not now"):
        expect_printed(run("[Thu Sep  1 15:35:45 2016] old\n"), ["old"])
    with pytest.raises(CheckFailed, match="after the blank line"):
        expect_printed(run(now_stamp(b"one").decode() + "\n" + now_stamp(b"late").decode()), ["one", "late"],
                       absent=["late"])


def test_words_skip_prompts_and_blank_lines():
    assert words("> \n\n> no reply: lost\n  \n") == ["> no reply: lost"]


def test_stream_peer_sends_a_reply_in_two_pieces():
    with StreamPeer(pieces=True) as peer:
        host, port = peer.address.split(":")
        with socket.create_connection((host, int(port)), timeout=3) as s:
            s.sendall(b"abcdefgh")
            first = s.recv(1024)
            rest = b""
            while len(first) + len(rest) < 27 + 8:
                rest += s.recv(1024)
    assert first.startswith(b"[") and len(first) < 27 + 8 and (first + rest).endswith(b"] abcdefgh")
    assert peer.received == [[b"abcdefgh"]]


def test_line_peer_answers_one_line_per_connection_and_notes_a_missing_line_end():
    with StreamPeer(mode="line") as peer:
        host, port = peer.address.split(":")
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"one line\r\n")
            reply = s.makefile("rb").readline()
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"no end")
            assert s.recv(100) == b""           # given up after 3 s
    assert reply.endswith(b"] one line\r\n")
    assert peer.connections == 2 and peer.unfinished == [b"no end"]


def test_datagram_peer_loses_what_it_is_told_to():
    with DatagramPeer({"lost"}) as peer, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        host, port = peer.address.split(":")
        s.settimeout(0.5)
        s.sendto(b"lost", (host, int(port)))
        with pytest.raises(socket.timeout):
            s.recvfrom(100)
        s.sendto(b"kept", (host, int(port)))
        assert s.recvfrom(100)[0].endswith(b"] kept")
    assert peer.received == [b"lost", b"kept"]
