"""A class roster: the CSV file a teacher keeps, one student per row.

Columns, in this order: student id, name, and optionally an SSH public key::

    id,name,ssh_key
    alice,Alice Wang,ssh-ed25519 AAAAC3Nza... alice@laptop
    bob,Bob Li,

The header row is optional (it is recognised by its first cell: ``id``, ``student id``,
``student_id`` or ``学号``).  Blank lines and lines starting with ``#`` are ignored.  A student
id names that student's lab (``LAB=<id>``), so it must be a valid lab name: lower-case
letters, digits, ``-`` or ``_``, up to 31 characters, starting with a letter or digit.  Ids
are case-insensitive and must be unique.

:func:`read_roster` returns the students, or raises :class:`RosterError` naming the file, the
line and what is wrong, so that a teacher can fix it at once.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,30}")
HEADER_WORDS = {"id", "student id", "student_id", "studentid", "学号"}
KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")


class RosterError(ValueError):
    """The roster cannot be used as it is; the message says where and why."""


@dataclass(frozen=True)
class Student:
    """One row of the roster."""

    id: str
    name: str
    ssh_key: str = ""        # an OpenSSH public key line, or "" (then a password is generated)


def parse_roster(text: str, source: str = "roster") -> list[Student]:
    """The students listed in *text* (CSV), in order; *source* names it in errors."""
    students: list[Student] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not students and not seen and cells[0].lower().lstrip("\ufeff") in HEADER_WORDS:
            continue
        where = f"{source}, line {number}"
        ident = cells[0].lstrip("\ufeff").lower()
        if not ID_PATTERN.fullmatch(ident):
            raise RosterError(f"{where}: student id {cells[0]!r}: use letters, digits, '-' or '_' "
                              "(up to 31 characters, starting with a letter or digit)")
        if ident in seen:
            raise RosterError(f"{where}: student id {ident!r} is already on line {seen[ident]}")
        if len(cells) < 2 or not cells[1]:
            raise RosterError(f"{where}: student {ident!r} has no name (columns: id, name, ssh key)")
        if len(cells) > 3:
            raise RosterError(f"{where}: {len(cells)} columns; expected 2 or 3 (id, name, ssh key)")
        key = cells[2] if len(cells) == 3 else ""
        if key and (key.split()[0] not in KEY_TYPES or len(key.split()) < 2):
            raise RosterError(f"{where}: the SSH key of {ident!r} is not an OpenSSH public key line "
                              "(it starts with ssh-ed25519, ssh-rsa or ecdsa-sha2-...)")
        seen[ident] = number
        students.append(Student(ident, cells[1], key))
    if not students:
        raise RosterError(f"{source}: no students (columns: id, name, ssh key)")
    return students


def read_roster(path: str | Path) -> list[Student]:
    """The students listed in the CSV file at *path*."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError(f"{path}: no such roster file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"{path}: cannot read the roster ({exc})") from None
    return parse_roster(text, str(path))
