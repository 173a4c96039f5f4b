import pytest

from socklab.roster import RosterError, Student, parse_roster, read_roster

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm3 alice@laptop"


def test_rows_with_and_without_header_and_key():
    text = f"学号,name,ssh_key\n# a comment\n\nAlice,Alice Wang,{KEY}\nbob,Bob Li,\ncarol-2,\"Li, Carol\"\n"
    assert parse_roster(text) == [Student("alice", "Alice Wang", KEY), Student("bob", "Bob Li", ""),
                                  Student("carol-2", "Li, Carol", "")]
    assert parse_roster("x1,X\n") == [Student("x1", "X")]


@pytest.mark.parametrize("text, words", [
    ("alice,A\nALICE,B\n", "already on line 1"),
    ("al ice,A\n", "student id 'al ice'"),
    ("-bob,B\n", "student id '-bob'"),
    ("bob,\n", "has no name"),
    ("bob,B,ssh-ed25519 AAAA,extra\n", "4 columns"),
    ("bob,B,not a key\n", "not an OpenSSH public key"),
    ("id,name\n", "no students"),
])
def test_errors_name_the_line_and_the_fault(text, words):
    with pytest.raises(RosterError, match=words):
        parse_roster(text, "class.csv")


def test_file_errors(tmp_path):
    with pytest.raises(RosterError, match="no such roster file"):
        read_roster(tmp_path / "missing.csv")
    (tmp_path / "c.csv").write_bytes("\ufeffid,name\nbob,Bob\n".encode())
    assert read_roster(tmp_path / "c.csv") == [Student("bob", "Bob")]
