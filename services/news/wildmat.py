"""Wildmat patterns, the way NNTP names groups (RFC 3977, section 4).

A wildmat is a list of patterns separated by commas; ``*`` matches any run of characters
and ``?`` exactly one; a pattern may be negated with ``!``::

    comp.*                  every group whose name starts with "comp."
    comp.*,!comp.lang.*     the comp groups, except those under comp.lang
    lab.?est                lab.test (and lab.best, if it existed)

The patterns are read **from right to left**: the first (rightmost) one that matches the
name decides.  If it is negated the name does not match; if no pattern matches, the name
does not match either.  So ``comp.*,!comp.lang.*`` leaves out comp.lang.python, while
``!comp.lang.*,comp.*`` lets it in (the plain ``comp.*`` on the right wins).

RFC 3977 wildmats know only ``*`` and ``?``: the characters ``[``, ``\\`` and ``]`` are not
allowed at all, so a pattern such as ``comp.[a-z]*`` is a syntax error (reply ``501``).
"""

from __future__ import annotations

import re
from functools import lru_cache

# wildmat-exact = %x22-29 / %x2B / %x2D-3E / %x40-5A / %x5E-7E / UTF8-non-ascii
# (that is: printable ASCII except  ! * , ? [ \ ]  and space)
_FORBIDDEN = set(' !*,?[\\]')


class WildmatError(ValueError):
    """The text is not a valid wildmat (the server answers ``501``)."""


@lru_cache(maxsize=256)
def compile_wildmat(wildmat: str) -> tuple[tuple[bool, re.Pattern], ...]:
    """Parse *wildmat* into ``(negated, regex)`` pairs, rightmost first.

    :raises WildmatError: for an empty pattern, a stray ``!`` or a forbidden character.
    """
    patterns = []
    for item in wildmat.split(","):
        negated = item.startswith("!")
        if negated:
            item = item[1:]
        if not item:
            raise WildmatError(f"empty pattern in wildmat {wildmat!r}")
        regex = []
        for ch in item:
            if ch == "*":
                regex.append(".*")
            elif ch == "?":
                regex.append(".")
            elif ch in _FORBIDDEN or ord(ch) < 0x21 or ord(ch) == 0x7F:
                raise WildmatError(f"character {ch!r} is not allowed in a wildmat")
            else:
                regex.append(re.escape(ch))
        patterns.append((negated, re.compile("".join(regex), re.DOTALL)))
    return tuple(reversed(patterns))


def wildmat_match(wildmat: str, name: str) -> bool:
    """Does *name* match *wildmat*?  The rightmost matching pattern decides."""
    for negated, regex in compile_wildmat(wildmat):
        if regex.fullmatch(name):
            return not negated
    return False


def check(wildmat: str) -> str:
    """Return *wildmat* if it is valid, else raise :class:`WildmatError`."""
    compile_wildmat(wildmat)
    return wildmat
