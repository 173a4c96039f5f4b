"""The Dovecot auth-protocol client (services/mail/sasl.py) against a protocol peer."""

from __future__ import annotations

import asyncio

import pytest
from mail_peers import AuthPeer

from socklab.services.mail.sasl import AuthUnavailable, DovecotAuth, _unescape


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


async def with_peer(tmp_path, body, peer: AuthPeer | None = None):
    peer = peer or AuthPeer()
    path = str(tmp_path / "auth")
    server = await asyncio.start_unix_server(peer, path)
    try:
        return await body(DovecotAuth(path, timeout=5), peer)
    finally:
        server.close()


def answers(*replies: bytes):
    """A SASL client that answers the server's challenges in order, recording them."""
    asked = []

    async def challenge(data: bytes) -> bytes | None:
        asked.append(data)
        return replies[len(asked) - 1]

    challenge.asked = asked
    return challenge


def test_plain_with_initial_response(tmp_path):
    async def body(auth, peer):
        return await auth.authenticate("plain", b"\0alice\0password", answers(), secured=True,
                                       remote=("10.0.0.5", 4242), local=("10.0.0.2", 587))
    result = run(with_peer(tmp_path, body))
    assert result.ok and result.user == "alice@lab.test"


def test_request_carries_service_security_and_addresses(tmp_path):
    async def body(auth, peer):
        await auth.authenticate("PLAIN", b"\0bob@lab.test\0secret", answers(), secured=True,
                                remote=("10.0.0.5", 4242), local=("10.0.0.2", 465))
        return peer.requests[0]
    request = run(with_peer(tmp_path, body))
    assert request[:3] == ["AUTH", "1", "PLAIN"]
    assert {"service=smtp", "no-penalty", "secured", "rip=10.0.0.5", "rport=4242",
            "lip=10.0.0.2", "lport=465"} <= set(request)
    assert request[-1].startswith("resp=")                   # Dovecot wants it last


def test_login_relays_the_challenges(tmp_path):
    client = answers(b"bob", b"secret")

    async def body(auth, peer):
        return await auth.authenticate("LOGIN", None, client, secured=True)
    result = run(with_peer(tmp_path, body))
    assert client.asked == [b"Username:", b"Password:"]
    assert result.ok and result.user == "bob@lab.test"


def test_wrong_password_is_an_ordinary_failure(tmp_path):
    async def body(auth, peer):
        return await auth.authenticate("PLAIN", b"\0alice\0nope", answers(), secured=True)
    result = run(with_peer(tmp_path, body))
    assert not result.ok and not result.temporary and result.user == "alice@lab.test"


def test_temporary_failure_is_marked(tmp_path):
    peer = AuthPeer()
    peer.temp_fail = True

    async def body(auth, _):
        return await auth.authenticate("PLAIN", b"\0alice\0password", answers(), secured=True)
    result = run(with_peer(tmp_path, body, peer))
    assert not result.ok and result.temporary


def test_client_giving_up_aborts(tmp_path):
    async def body(auth, peer):
        return await auth.authenticate("LOGIN", None, answers(None), secured=True)
    result = run(with_peer(tmp_path, body))
    assert not result.ok and result.aborted


def test_mechanism_the_service_does_not_offer(tmp_path):
    async def body(auth, peer):
        return await auth.authenticate("CRAM-MD5", None, answers(), secured=True), peer.requests
    result, requests = run(with_peer(tmp_path, body))
    assert not result.ok and requests == []


def test_no_service_is_unavailable_not_a_wrong_password(tmp_path):
    auth = DovecotAuth(str(tmp_path / "missing"), timeout=1)
    with pytest.raises(AuthUnavailable):
        run(auth.authenticate("PLAIN", b"\0alice\0password", answers(), secured=True))


def test_a_silent_service_times_out(tmp_path):
    async def silent(reader, writer):
        await reader.read()                                   # never says a word

    async def main():
        path = str(tmp_path / "silent")
        server = await asyncio.start_unix_server(silent, path)
        try:
            await DovecotAuth(path, timeout=0.3).authenticate("PLAIN", b"\0a\0b", answers(), secured=True)
        finally:
            server.close()

    with pytest.raises(AuthUnavailable):
        run(main())


@pytest.mark.parametrize("escaped, plain", [
    ("plain", "plain"),
    ("a\x01tb", "a\tb"),
    ("\x010\x011\x01r\x01n", "\0\x01\r\n"),
    ("x\x01zy", "xzy"),
])
def test_tab_unescaping(escaped, plain):
    assert _unescape(escaped) == plain
