"""MAIL_ACCOUNTS -> Dovecot's passwd-file (services/mail/accounts.py)."""

from __future__ import annotations

import base64
import os
import stat

import pytest

from socklab.services.mail import accounts

# Made by Dovecot 2.3.19 itself: `doveadm pw -s SSHA512 -p <password>` (salt at the end).
DOVECOT_VECTORS = {
    "password": "{SSHA512}aW3yq+QHscfr2AVAEx8Y6Ie1m4z7XFBZnmMfwCesmTn3lcpOKGWRNHaC5+xJcU+gnSyRWlsweRK33La433DOPTsHevY=",
    "pässword 1": "{SSHA512}9plFmqmG3HzHmtn1zWK52pCyU6xbR4hdq6R0AAsPLyfJOGlG+z7QA9L61gYA9n8uQrgqtuJu0CMtVaCLCUiyakB97lU=",
}


def test_default_accounts():
    assert accounts.parse(accounts.DEFAULT_ACCOUNTS) == [("alice", "password"), ("bob", "password")]


def test_commas_spaces_case_and_colons_in_passwords():
    parsed = accounts.parse(" Carol:s3cret,dave:a:b:c  ")
    assert parsed == [("carol", "s3cret"), ("dave", "a:b:c")]


@pytest.mark.parametrize("spec, why", [
    ("", "no accounts"),
    ("alice", "user:password"),
    ("alice:", "user:password"),
    ("al ice:pw", "user:password"),
    ("-x:pw", "lower-case"),
    ("a/b:pw", "lower-case"),
    ("alice:1 ALICE:2", "twice"),
])
def test_unclear_accounts_are_refused(spec, why):
    with pytest.raises(ValueError, match=why):
        accounts.parse(spec)


@pytest.mark.parametrize("password, vector", DOVECOT_VECTORS.items())
def test_hash_is_dovecots_ssha512(password, vector):
    salt = base64.b64decode(vector.removeprefix("{SSHA512}"))[64:]     # sha512 digest, then the salt
    assert accounts.ssha512(password, salt) == vector
    assert accounts.ssha512("not the password", salt) != vector


def test_every_hash_has_its_own_salt():
    assert accounts.ssha512("password") != accounts.ssha512("password")


def test_passwd_file_lines():
    text = accounts.passwd_file(accounts.parse("alice:Plain-Text-Secret bob:Plain-Text-Secret"), "lab.test")
    lines = text.splitlines()
    assert [line.split(":")[0] for line in lines] == ["alice@lab.test", "bob@lab.test"]
    assert all(line.split(":")[1].startswith("{SSHA512}") and line.endswith("::::::") for line in lines)
    assert "Plain-Text-Secret" not in text


def test_written_for_its_owner_only(tmp_path):
    path = tmp_path / "users"
    accounts.write_passwd_file(str(path), accounts.parse("alice:pw"), "lab.test")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text().startswith("alice@lab.test:{SSHA512}")
    accounts.write_passwd_file(str(path), accounts.parse("bob:pw"), "lab.test")      # replaced whole
    assert path.read_text().startswith("bob@lab.test:") and "alice" not in path.read_text()
    assert not (tmp_path / "users.new").exists()


@pytest.mark.parametrize("password, vector", DOVECOT_VECTORS.items())
def test_verify_accepts_dovecots_hashes_and_only_the_right_password(password, vector):
    assert accounts.verify_ssha512(password, vector)
    assert not accounts.verify_ssha512(password + " ", vector)
    assert not accounts.verify_ssha512(password, "{PLAIN}" + password)
    assert not accounts.verify_ssha512(password, "{SSHA512}not base64!")


def test_passwd_file_logins(tmp_path):
    path = tmp_path / "users"
    accounts.write_passwd_file(str(path), accounts.parse("alice:pw1 bob:pw2"), "lab.test")
    users = accounts.PasswdFile(str(path), "lab.test")
    for login in ("alice", "Alice", "alice@lab.test", "ALICE@LAB.TEST", " alice "):
        assert users.check(login, "pw1") == "alice@lab.test"
    assert users.check("alice", "pw2") is None                 # bob's password
    assert users.check("alice", "PW1") is None
    assert users.check("alice@other.test", "pw1") is None      # another domain: another account
    assert users.check("zed", "pw1") is None
    assert users.check("bob", "pw2") == "bob@lab.test"
