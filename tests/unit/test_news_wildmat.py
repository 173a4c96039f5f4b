"""Wildmat patterns (RFC 3977, section 4): the rightmost matching pattern decides."""

import pytest

from socklab.services.news.wildmat import WildmatError, check, wildmat_match


@pytest.mark.parametrize("wildmat, name, expected", [
    ("*", "comp.lang.python", True),
    ("comp.*", "comp.lang.python", True),
    ("comp.*", "comp", False),
    ("comp*", "comp", True),
    ("lab.?est", "lab.test", True),
    ("lab.?est", "lab.tes", False),
    ("lab.?", "lab.test", False),
    ("comp.lang.python", "comp.lang.python", True),
    ("comp.lang.python", "comp.lang.pythonx", False),
    ("comp.*,!comp.lang.*", "comp.lang.python", False),
    ("comp.*,!comp.lang.*", "comp.os.linux", True),
    ("!comp.lang.*,comp.*", "comp.lang.python", True),     # the rightmost match wins
    ("!comp.*", "comp.lang.python", False),
    ("!comp.*", "lab.test", False),                        # nothing matches: no
    ("a.*,b.*,!b.c", "b.c", False),
    ("a.*,b.*,!b.c", "b.d", True),
    ("*.test", "lab.test", True),
    ("*python*", "comp.lang.python", True),
    ("*.*.*", "comp.lang.python", True),
    ("*.*.*", "lab.test", False),
    ("grüße.*", "grüße.test", True),                        # UTF-8 is allowed
    ("a+b", "a+b", True),
    ("a.b", "aXb", False),                                  # "." is not a wildcard
])
def test_matching(wildmat, name, expected):
    assert wildmat_match(wildmat, name) is expected


@pytest.mark.parametrize("bad", ["", ",", "a,", ",a", "!", "a,!", "comp.[a-z]*", "a\\b", "a]", "a b", "!!a", "a\tb"])
def test_syntax_errors(bad):
    with pytest.raises(WildmatError):
        check(bad)


def test_check_returns_a_valid_pattern():
    assert check("comp.*,!comp.lang.*") == "comp.*,!comp.lang.*"
