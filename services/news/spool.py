"""The news spool: where the server keeps groups and articles, safely, on disk.

The layout follows the classic Unix news servers (C News, INN's "tradspool"), so a student
can look at it with ``ls`` and ``cat``::

    /var/spool/news/
        active              one line per group: name, high and low article number, flag
        active.times        when each group was created, and by whom
        newsgroups          name<TAB>description
        articles/comp/lang/python/1     article 1 of comp.lang.python, as text
        articles/comp/lang/python/2     ...
        tmp/                articles being written

The flag in ``active`` is ``y`` (anyone may post), ``n`` (no posting: read-only) or
``m`` (moderated).

**Crash safety.**  A ``POST`` is answered ``240`` only after the article is on the disk
for good, so an acknowledged article survives a crash or a power cut:

1. the article is written to a file in ``tmp/`` and ``fsync``-ed;
2. it is hard-linked to its final name in every group it goes to (``os.link`` refuses to
   replace an existing file, so an article can never overwrite another), the temporary
   name is removed and the group directories are ``fsync``-ed, which makes the new names
   durable;
3. the ``active`` file is rewritten with the new high-water marks: written to a
   temporary file, ``fsync``-ed, then renamed over the old one (a rename is atomic: a
   reader sees the old file or the new one, never half of one).

Only then does the server reply ``240``.  A crash between the steps leaves either a
stray file in ``tmp/`` (removed at the next start: the article was never acknowledged) or
an article that ``active`` does not count yet: at start-up the spool scans the group
directories and takes the largest number it finds, so **article numbers are never
reused**, whatever the moment of the crash.

**Index.**  At start-up every article is read once and what the commands need (the
overview fields, the message-id, the arrival time) is kept in memory; the text itself
is read from the file when a client asks for it.  Many threads read at once; one
lock serialises the writers.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from pathlib import Path

from socklab.files import fsync_dir, write_atomically
from socklab.services.news.article import Article, ArticleError, is_group_name, parse_date
from socklab.services.news.wildmat import wildmat_match

log = logging.getLogger("news-server")

FLAGS = {"y": "posting allowed", "n": "read-only", "m": "moderated"}


class SpoolError(Exception):
    """The spool cannot do what was asked (the text says why)."""


class DuplicateArticle(SpoolError):
    """An article with this message-id is already in the spool (reply ``441``)."""


@dataclass(frozen=True)
class Entry:
    """What the index knows of one stored article, without reading its file again."""

    message_id: str
    path: Path                  # one of its files (a cross-post has a hard link per group)
    overview: dict              # the fields of an OVER line, see Article.overview()
    arrived: float              # when the server received it (seconds since the epoch)
    places: tuple               # ((group, number), ...): where it is filed


@dataclass
class Group:
    """One newsgroup: its name, posting flag, description and article numbers."""

    name: str
    flag: str = "y"
    description: str = ""
    created: int = 0            # seconds since the epoch
    creator: str = "news"
    high: int = 0               # highest number ever given out (the high-water mark)
    numbers: list = field(default_factory=list)     # numbers of the articles present, sorted

    @property
    def low(self) -> int:
        """Lowest article number present; one above ``high`` when the group is empty."""
        return self.numbers[0] if self.numbers else self.high + 1

    @property
    def count(self) -> int:
        return len(self.numbers)

    @property
    def posting(self) -> bool:
        return self.flag == "y"


class Spool:
    """Groups and articles under one directory, see the module docstring.

    :param root: the spool directory (a Docker volume in the lab); created if missing.
    :param path_host: this server's name in ``Path`` and ``Xref`` headers.
    :param logger: where to say what was repaired or skipped (default: ``news-server``).
    """

    def __init__(self, root: str | os.PathLike, *, path_host: str = "news.lab.test",
                 logger: logging.Logger | None = None) -> None:
        self.log = logger or log
        self.root = Path(root)
        self.path_host = path_host
        self.articles_dir = self.root / "articles"
        self.tmp_dir = self.root / "tmp"
        self._groups: dict[str, Group] = {}
        self._by_place: dict[tuple[str, int], Entry] = {}
        self._by_id: dict[str, Entry] = {}
        self._lock = threading.Lock()           # guards the in-memory index
        self._write_lock = threading.Lock()     # one writer at a time (numbers, files, active)
        self.root.mkdir(parents=True, exist_ok=True)
        self.articles_dir.mkdir(exist_ok=True)
        self.tmp_dir.mkdir(exist_ok=True)
        self._load()

    # ------------------------------------------------------------------ start-up

    @property
    def is_new(self) -> bool:
        """True until the first group is created (the server then seeds the spool)."""
        return not (self.root / "active").exists()

    def _load(self) -> None:
        """Read ``active`` and friends, clean ``tmp/``, and index every article."""
        for leftover in self.tmp_dir.iterdir():
            self.log.info("removing %s: an article that was never acknowledged", leftover.name)
            leftover.unlink()
        if self.is_new:
            return
        for line in self._read_lines("active"):
            name, high, _low, flag = line.split()
            self._groups[name] = Group(name, flag=flag, high=int(high))
        for line in self._read_lines("active.times"):
            name, created, creator = line.split()
            if name in self._groups:
                self._groups[name].created = int(created)
                self._groups[name].creator = creator
        for line in self._read_lines("newsgroups"):
            name, _, description = line.partition("\t")
            if name in self._groups:
                self._groups[name].description = description.strip()
        repaired = False
        for group in self._groups.values():
            directory = self.group_dir(group.name)
            directory.mkdir(parents=True, exist_ok=True)
            numbers = sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit() and p.is_file())
            for number in numbers:
                self._index(group.name, number, directory / str(number))
            group.numbers = [n for n in numbers if (group.name, n) in self._by_place]
            if numbers and numbers[-1] > group.high:
                self.log.info("%s: article %d is on disk but not in active; high-water mark raised",
                         group.name, numbers[-1])
                group.high = numbers[-1]
                repaired = True
        if repaired:
            self._write_active()
        self.log.info("spool %s: %d groups, %d articles", self.root, len(self._groups), len(self._by_id))

    def _read_lines(self, name: str) -> list[str]:
        try:
            text = (self.root / name).read_text("utf-8")
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]

    def _index(self, group: str, number: int, path: Path) -> None:
        try:
            article = Article.from_bytes(path.read_bytes())
        except (OSError, ArticleError) as exc:
            self.log.warning("skipping %s: %s", path, exc)
            return
        msgid = article.get("Message-ID")
        if not msgid:
            self.log.warning("skipping %s: no Message-ID", path)
            return
        entry = self._by_id.get(msgid)
        if entry is None:
            entry = self._entry(article, path)
            self._by_id[msgid] = entry
        self._by_place[(group, number)] = entry

    def _entry(self, article: Article, path: Path) -> Entry:
        when = parse_date(article.get("Injection-Date") or article.get("Date") or "")
        arrived = when.timestamp() if when else path.stat().st_mtime
        places = []
        for item in (article.get("Xref") or "").split()[1:]:
            name, _, number = item.rpartition(":")
            if number.isdigit():
                places.append((name, int(number)))
        return Entry(article.get("Message-ID"), path, article.overview(), arrived, tuple(places))

    # ------------------------------------------------------------------ groups

    def group_dir(self, name: str) -> Path:
        """``comp.lang.python`` -> ``articles/comp/lang/python``."""
        if not is_group_name(name):
            raise SpoolError(f"bad group name {name!r}")
        return self.articles_dir.joinpath(*name.split("."))

    def groups(self, wildmat: str | None = None) -> list[Group]:
        """The groups (sorted by name), only those matching *wildmat* if given."""
        with self._lock:
            found = [g for g in self._groups.values() if wildmat is None or wildmat_match(wildmat, g.name)]
            return sorted((self._copy(g) for g in found), key=lambda g: g.name)

    def group(self, name: str) -> Group | None:
        """A snapshot of the group called *name*, or None."""
        with self._lock:
            g = self._groups.get(name)
            return self._copy(g) if g else None

    @staticmethod
    def _copy(g: Group) -> Group:
        return Group(g.name, g.flag, g.description, g.created, g.creator, g.high, list(g.numbers))

    def create_group(self, name: str, *, flag: str = "y", description: str = "", creator: str = "news",
                     created: float | None = None) -> Group:
        """Add a group (the server's seed does this on first start)."""
        if flag not in FLAGS:
            raise SpoolError(f"flag must be one of {', '.join(FLAGS)}")
        with self._write_lock:
            directory = self.group_dir(name)
            with self._lock:
                if name in self._groups:
                    raise SpoolError(f"group {name} exists")
            directory.mkdir(parents=True, exist_ok=True)
            group = Group(name, flag, description, int(created if created is not None else time.time()), creator)
            with self._lock:
                self._groups[name] = group
            self._write_group_files()
            return self._copy(group)

    def _write_group_files(self) -> None:
        with self._lock:
            groups = sorted(self._groups.values(), key=lambda g: g.name)
            times = "".join(f"{g.name} {g.created} {g.creator}\n" for g in groups)
            descriptions = "".join(f"{g.name}\t{g.description}\n" for g in groups)
        write_atomically(self.root / "active.times", times.encode("utf-8"))
        write_atomically(self.root / "newsgroups", descriptions.encode("utf-8"))
        self._write_active()    # last: its presence means "the spool exists"

    def _write_active(self) -> None:
        with self._lock:
            text = "".join(f"{g.name} {g.high:010d} {g.low:010d} {g.flag}\n"
                           for g in sorted(self._groups.values(), key=lambda g: g.name))
        write_atomically(self.root / "active", text.encode("ascii"))

    # ------------------------------------------------------------------ articles

    def entry(self, group: str, number: int) -> Entry | None:
        with self._lock:
            return self._by_place.get((group, number))

    def entry_by_id(self, message_id: str) -> Entry | None:
        with self._lock:
            return self._by_id.get(message_id)

    def numbers(self, group: str, low: int, high: int | None = None) -> list[int]:
        """The numbers of the articles of *group* from *low* to *high* (None: no limit)."""
        with self._lock:
            g = self._groups.get(group)
            if g is None:
                return []
            start = bisect_left(g.numbers, low)
            end = len(g.numbers) if high is None else bisect_right(g.numbers, high)
            return g.numbers[start:end]

    def read(self, entry: Entry) -> Article:
        """The full article behind an index entry (read from its file)."""
        return Article.from_bytes(entry.path.read_bytes())

    def new_articles(self, since: float, wildmat: str) -> list[str]:
        """Message-ids of the articles that arrived at or after *since* in matching groups."""
        with self._lock:
            entries = list(self._by_id.values())
        found = []
        for entry in entries:
            if entry.arrived >= since and any(wildmat_match(wildmat, g) for g, _ in entry.places):
                found.append((entry.arrived, entry.message_id))
        return [msgid for _, msgid in sorted(found)]

    def store(self, article: Article, groups: list[str]) -> Entry:
        """File *article* in *groups* for good, and return its index entry.

        Gives it the next number in every group, writes its ``Xref`` header, and
        returns only when the article and the new ``active`` are durable on disk.

        :raises DuplicateArticle: its message-id is already in the spool.
        :raises SpoolError: a group does not exist.
        """
        msgid = article.get("Message-ID")
        if not msgid:
            raise SpoolError("the article has no Message-ID")
        with self._write_lock:
            with self._lock:
                if msgid in self._by_id:
                    raise DuplicateArticle(f"an article with message-id {msgid} is already here")
                missing = [g for g in groups if g not in self._groups]
                if missing:
                    raise SpoolError(f"no such newsgroup: {missing[0]}")
                places = tuple((g, self._groups[g].high + 1) for g in groups)
            article.set("Xref", " ".join([self.path_host] + [f"{g}:{n}" for g, n in places]))
            data = article.to_bytes()

            tmp = self.tmp_dir / f"{os.getpid()}.{threading.get_ident()}.{time.monotonic_ns()}"
            paths: list[Path] = []
            try:
                with open(tmp, "wb") as f:                      # 1. write and fsync
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                for group, number in places:                    # 2. link into each group
                    path = self.group_dir(group) / str(number)
                    os.link(tmp, path)
                    paths.append(path)
                for directory in {p.parent for p in paths}:
                    fsync_dir(directory)
            except OSError as exc:
                for path in paths:                              # not acknowledged: undo
                    path.unlink(missing_ok=True)
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    self.log.warning("%s not stored: the spool's disk is full", msgid)
                    raise SpoolError("the server's disk is full; nothing was stored, try again later") from exc
                raise SpoolError(f"cannot store the article: {exc.strerror or exc}") from exc
            finally:
                tmp.unlink(missing_ok=True)

            entry = self._entry(article, paths[0])
            with self._lock:
                for (group, number) in places:
                    g = self._groups[group]
                    g.high = number
                    g.numbers.append(number)
                    self._by_place[(group, number)] = entry
                self._by_id[msgid] = entry
            try:
                self._write_active()                            # 3. new high-water marks
            except OSError as exc:
                # The article itself is durable, and the next start finds its number by
                # scanning the group directory, so the post still counts.
                self.log.warning("could not rewrite active (%s); the next start repairs it", exc)
            return entry

