#!/usr/bin/env python3
"""A classroom on one server: one lab per student of a roster, entered over SSH.

    python3 tools/classroom.py up ROSTER.csv   # make class ROSTER=class.csv: start what is missing
    python3 tools/classroom.py status          # a row per student: hosts ready, checks, disk
    python3 tools/classroom.py report          # classroom/report.csv and classroom/report.html
    python3 tools/classroom.py cards           # classroom/cards.txt and classroom/cards.html again
    python3 tools/classroom.py down            # stop every student's lab (files and volumes stay)
    python3 tools/classroom.py clean           # delete the labs and their volumes (workspaces stay)
    python3 tools/classroom.py bench [N]       # start N labs, measure time, memory and idle CPU

Each student of the roster (socklab/roster.py) gets the lab ``LAB=<id>`` -- the same
compose project ``make lab`` would give that name, so ``LAB=<id> make shell`` enters it
too -- and a folder of their own::

    classroom/<id>/lab.json      the lab's record: its port prefix, SSH port, password
    classroom/<id>/workspace/    the student's code, seeded with the exercises
    classroom/<id>/ssh/          sshd_config, host key, authorized_keys (mounted read-only)
    classroom/<id>/shadow        the student's password hash, mounted as the client's /etc/shadow

A class lab is the lab of compose.yaml with two differences (see :func:`class_compose`):
no host ports but one, the SSH port ``PPP02`` of its block (on ``CLASS_BIND``, 127.0.0.1
unless the teacher opts in), and a client host whose command is sshd, running
unprivileged as ``student``.  Port prefixes are handed out once, from 300 upwards, and
kept in lab.json, so every student keeps their SSH port for the whole course.

Only the standard library is used, like tools/lab.py, whose machinery this drives.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # `python3 -m tools.classroom` (make) or `python3 tools/classroom.py`: run the one copy of
    # this module that the other tools import, tools.classroom (see tools/__init__.py)
    if not __package__:     # run by its path: the checkout on sys.path, in place of tools/
        sys.path[0] = str(Path(__file__).resolve().parent.parent)
    from tools.classroom import main
    sys.exit(main(sys.argv[1:]))

import concurrent.futures
import csv
import html
import io
import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, asdict

from socklab.i18n import _
from socklab.roster import RosterError, Student, read_roster
from tools import lab as labtool, ports

ROOT = Path(__file__).resolve().parent.parent
CLASSROOM = Path(os.environ.get("CLASSROOM") or ROOT / "classroom")
OVERRIDE = ROOT / "tools" / "classroom.compose.yaml"
# port blocks PPP00-PPP99 from 300 (ports 30000-64099); 1xx are the tests', 2xx `make lab`'s
FIRST_PREFIX = int(os.environ.get("CLASS_FIRST_PREFIX") or 300)
LAST_PREFIX = 640
SSH_SUFFIX = 2                              # the SSH port of a lab is PPP02 (free in compose.yaml)
SSH_INNER_PORT = 2222                       # where sshd listens in the client host
STUDENT_UID = 1000                          # the student in the lab image (images/lab/Dockerfile)
SEED_SKIP = {"results", "captures", ".check", "__pycache__"}
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"   # no 0/o, 1/l/i: read off a card


class ClassError(Exception):
    """Something the teacher has to fix; printed as one line, exit status 1."""


# --------------------------------------------------------------------------- records

@dataclass
class LabRecord:
    """What classroom/<id>/lab.json keeps about one student's lab."""

    id: str
    name: str
    prefix: int
    password: str = ""          # "" when the student logs in with the key from the roster
    ssh_key: str = ""

    @property
    def ssh_port(self) -> int:
        return self.prefix * 100 + SSH_SUFFIX

    @property
    def folder(self) -> Path:
        return CLASSROOM / self.id

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / "lab.json"
        tmp = path.with_suffix(".tmp")
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(json.dumps(asdict(self), ensure_ascii=False, indent=1) + "\n")
        os.replace(tmp, path)


def load_records(classroom: Path | None = None) -> list[LabRecord]:
    """Every lab recorded under classroom/, by student id."""
    classroom = classroom or CLASSROOM
    records = []
    for path in sorted(classroom.glob("*/lab.json")):
        try:
            data = json.loads(path.read_text())
            records.append(LabRecord(**data))
        except (OSError, ValueError, TypeError) as exc:
            raise ClassError(_("{path}: not a lab record ({error})").format(path=path, error=exc)) from None
    return records


def allocate_prefixes(students: list[Student], taken: dict[str, int], busy=lambda prefix: False,
                      first: int = FIRST_PREFIX, last: int = LAST_PREFIX) -> dict[str, int]:
    """A port prefix for every student: the one already recorded in *taken* (id -> prefix),
    else the lowest prefix from *first* to *last* that no other student holds and for
    which ``busy(prefix)`` is false (something else uses that block of ports)."""
    result: dict[str, int] = {}
    used = set(taken.values())
    candidates = (p for p in range(first, last + 1) if p not in used)
    for student in students:
        if student.id in taken:
            result[student.id] = taken[student.id]
            continue
        for prefix in candidates:
            if not busy(prefix):
                result[student.id] = prefix
                used.add(prefix)
                break
        else:
            raise ClassError(_("no free port block left for {student} (prefixes {first}-{last} are all taken)")
                             .format(student=student.id, first=first, last=last))
    return result


def new_password(length: int = 12) -> str:
    """A password one can type from a card: groups of four, e.g. ``k7mq-x4tp-9wez``."""
    chars = "".join(secrets.choice(PASSWORD_ALPHABET) for _i in range(length))
    return "-".join(chars[i:i + 4] for i in range(0, length, 4))


def password_hash(password: str) -> str:
    """The SHA-512 crypt(3) hash of *password*, as /etc/shadow keeps it."""
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))
    except ImportError:             # Python 3.13 dropped crypt: openssl does the same
        res = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True,
                             text=True)
        if res.returncode != 0:
            raise ClassError(_("cannot hash a password: no crypt module and no openssl")) from None
        return res.stdout.strip()


# --------------------------------------------------------------------------- what a lab is made of

def without_ports(compose_text: str) -> str:
    """compose.yaml without its ``ports:`` entries: a class lab publishes none of them.

    Both forms used in compose.yaml are removed: ``ports: [...]`` on one line, and
    ``ports:`` followed by more deeply indented ``- ...`` lines.
    """
    out, skip_deeper_than = [], None
    for line in compose_text.splitlines(keepends=True):
        indent = len(line) - len(line.lstrip(" "))
        if skip_deeper_than is not None:
            if line.strip() and (indent > skip_deeper_than or
                                 (indent == skip_deeper_than and line.lstrip().startswith("- "))):
                continue
            skip_deeper_than = None
        if re.match(r"\s+ports:\s*\[.*\]\s*(#.*)?$", line):
            continue
        if re.match(r"\s+ports:\s*(#.*)?$", line):
            skip_deeper_than = indent
            continue
        out.append(line)
    return "".join(out)


def without_healthchecks(compose_text: str) -> str:
    """compose.yaml with every host's Docker healthcheck disabled (``CLASS_HEALTHCHECKS=off``:
    what the healthchecks cost at idle, measured by `make class-bench`)."""
    return re.sub(r"^([ ]+)healthcheck: \{.*\}[ \t]*$", r"\1healthcheck: {disable: true}", compose_text, flags=re.M)


def healthchecks() -> bool:
    return os.environ.get("CLASS_HEALTHCHECKS", "on").lower() not in ("off", "0", "no")


def class_compose() -> Path:
    """The compose file of a class lab: compose.yaml without host ports, in .lab/."""
    text = without_ports((ROOT / "compose.yaml").read_text())
    path = ROOT / ".lab" / "compose.class.yaml"
    if not healthchecks():
        text, path = without_healthchecks(text), path.with_name("compose.class-nohealth.yaml")
    text = "# made by tools/classroom.py from compose.yaml: the same hosts, no host ports\n" + text
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path


def sshd_config(record: LabRecord) -> str:
    """sshd's configuration for the client host of *record*'s lab (sshd runs as student).

    A password login only when the student has a password of their own; a key from the
    roster otherwise.  The session starts in the workspace, with the environment the
    client host has under `make shell` (images/lab/lab-ssh-session).
    """
    return "\n".join([
        "# sshd of this student's client host (tools/classroom.py); runs as the user student",
        f"Port {SSH_INNER_PORT}",
        "HostKey /etc/socklab/ssh/ssh_host_ed25519_key",
        "PidFile none",
        "AllowUsers student",
        "PermitRootLogin no",
        "UsePAM no",
        "StrictModes yes",
        "PubkeyAuthentication yes",
        "AuthorizedKeysFile /etc/socklab/ssh/authorized_keys",
        f"PasswordAuthentication {'yes' if record.password else 'no'}",
        "PermitEmptyPasswords no",
        "KbdInteractiveAuthentication no",
        "X11Forwarding no",
        "AllowTcpForwarding local",
        "PrintMotd no",
        "ForceCommand /usr/local/bin/lab-ssh-session",
        "Subsystem sftp /usr/lib/openssh/sftp-server",
        f"SetEnv SOCKLAB_STUDENT={record.id}",
        "",
    ])


def shadow(record: LabRecord) -> str:
    """/etc/shadow for the client host: the student's hash (or "*": no password login at all), every other account locked."""
    student = password_hash(record.password) if record.password else "*"   # "!" would lock out keys too
    return "".join(f"{user}:{hash_}:19700:0:99999:7:::\n"
                   for user, hash_ in (("root", "*"), ("student", student), ("socklab", "!")))


def seed_workspace(source: Path, target: Path) -> bool:
    """Copy the exercises (workspace/ without results, captures, .check) into a new workspace.

    An existing workspace is the student's: it is never touched.  True when seeded now.
    """
    if target.exists():
        return False
    shutil.copytree(source, target, ignore=lambda folder, names: [n for n in names if n in SEED_SKIP])
    return True


def _chown_tree(path: Path, uid: int) -> None:
    if os.getuid() != 0:
        return
    os.chown(path, uid, uid)
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


def shadow_matches(text: str, record: LabRecord) -> bool:
    """Does the shadow file *text* already give *record*'s student their password (or, without
    one, no password at all)?  Then it is kept: a new salt would change it for nothing."""
    line = next((ln for ln in text.splitlines() if ln.startswith("student:")), "")
    stored = line.split(":")[1] if line.count(":") > 1 else ""
    if not record.password:
        return stored == "*"
    if not stored.startswith("$6$"):
        return False
    salt = stored.rsplit("$", 1)[0]
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
        return crypt.crypt(record.password, salt) == stored
    except ImportError:
        res = subprocess.run(["openssl", "passwd", "-6", "-salt", salt.split("$")[2], "-stdin"],
                             input=record.password, capture_output=True, text=True)
        return res.returncode == 0 and res.stdout.strip() == stored


def write_ssh_files(record: LabRecord, folder: Path, owner: int | None = STUDENT_UID) -> None:
    """What the client's sshd reads, in *folder*: ``ssh/`` (sshd_config, a host key made
    once and kept, so it never changes under the students' known_hosts, authorized_keys)
    and ``shadow`` (kept while it holds the record's password).

    The files are mode 0600 (0400: shadow), owned by *owner* when running as root (the
    student, for the bind mounts of a class lab; None leaves them the caller's).
    tools/k8s.py puts the same files in a student's Secrets.
    """
    folder.mkdir(parents=True, exist_ok=True)
    ssh = folder / "ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    key = ssh / "ssh_host_ed25519_key"
    if not key.exists():
        if not shutil.which("ssh-keygen"):
            raise ClassError(_("ssh-keygen is needed to make the labs' SSH host keys "
                               "(on Debian: apt-get install openssh-client)"))
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"socklab-{record.id}",
                        "-f", str(key)], check=True, capture_output=True)
    (ssh / "authorized_keys").write_text(record.ssh_key + "\n" if record.ssh_key else "")
    (ssh / "sshd_config").write_text(sshd_config(record))
    for path in ssh.iterdir():
        path.chmod(0o600)
    if owner is not None:
        _chown_tree(ssh, owner)
    ssh.chmod(0o700)
    shadow_file = folder / "shadow"
    if not shadow_file.exists() or not shadow_matches(shadow_file.read_text(), record):
        shadow_file.unlink(missing_ok=True)
        shadow_file.touch(mode=0o600)
        shadow_file.write_text(shadow(record))
    shadow_file.chmod(0o400)
    if owner is not None and os.getuid() == 0:
        os.chown(shadow_file, owner, owner)


def ssh_env(folder: Path) -> dict[str, str]:
    """The variables tools/classroom.compose.yaml mounts the files of write_ssh_files from."""
    return {"CLASS_SSH_DIR": str(folder / "ssh"), "CLASS_SHADOW": str(folder / "shadow")}


def prepare_folder(record: LabRecord) -> None:
    """classroom/<id>/: workspace, ssh/ with a host key kept across restarts, shadow."""
    folder = record.folder
    if seed_workspace(ROOT / "workspace", folder / "workspace"):
        _chown_tree(folder / "workspace", STUDENT_UID)
    write_ssh_files(record, folder)


# --------------------------------------------------------------------------- cards

def card_host() -> str:
    """The host name printed on the cards: CLASS_HOST, else CLASS_BIND when it names one
    address, else 127.0.0.1 (the default: SSH on this machine only)."""
    if os.environ.get("CLASS_HOST"):
        return os.environ["CLASS_HOST"]
    bind = os.environ.get("CLASS_BIND", "127.0.0.1")
    if bind in ("0.0.0.0", "::", ""):
        return socket.getfqdn()
    return bind


def card_fields(record: LabRecord, host: str, port: str = "") -> list[tuple[str, str]]:
    """What a card says: (label, value) pairs; *port* when it is not the record's own."""
    port = port or str(record.ssh_port)
    return [(_("host:"), host), (_("port:"), port), (_("user:"), "student"),
            (_("password:"), record.password or _("(your SSH key from the roster)")),
            (_("log in:"), f"ssh -p {port} student@{host}")]


def card_title(record: LabRecord) -> str:
    return _("socklab lab of {name} ({id})").format(name=record.name, id=record.id)


def card_text(record: LabRecord, host: str, port: str = "") -> str:
    """One student's card as plain text: where and how to log in."""
    fields = card_fields(record, host, port)
    width = max(len(label) for label, _value in fields) + 1
    return "\n".join([card_title(record)] + [f"  {label.ljust(width)} {value}" for label, value in fields]) + "\n"


def cards_text(records: list[LabRecord], host: str, ports: dict[str, str] | None = None) -> str:
    """Every card, cut apart by dashed lines; *ports* (id -> port) where not the records' own."""
    cut = "\n" + "-" * 60 + "\n\n"
    return cut.join(card_text(r, host, (ports or {}).get(r.id, "")) for r in records)


def cards_html(records: list[LabRecord], host: str, ports: dict[str, str] | None = None) -> str:
    """Every card on one printable page, cut along the dashed lines."""
    e = html.escape
    cards = []
    for r in records:
        rows = "".join(f"<tr><th>{e(label)}</th><td><code>{e(value)}</code></td></tr>"
                       for label, value in card_fields(r, host, (ports or {}).get(r.id, "")))
        cards.append(f'<div class="card"><h2>{e(card_title(r))}</h2><table>{rows}</table></div>')
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>socklab</title><style>"
            "body{font-family:sans-serif}.card{display:inline-block;width:22em;margin:.5em;padding:.8em;"
            "border:1px dashed #888;page-break-inside:avoid}th{text-align:left;padding-right:1em}"
            "h2{font-size:1.1em;margin:0 0 .5em}</style></head><body>\n"
            + "\n".join(cards) + "\n</body></html>\n")


def write_cards(records: list[LabRecord]) -> tuple[Path, Path]:
    host = card_host()
    text_path, html_path = CLASSROOM / "cards.txt", CLASSROOM / "cards.html"
    for path, body in ((text_path, cards_text(records, host)), (html_path, cards_html(records, host))):
        path.write_text(body)
        path.chmod(0o600)       # passwords: the teacher's only
    return text_path, html_path


# --------------------------------------------------------------------------- check results

def read_results(workspace: Path) -> dict | None:
    """workspace/.check/results.json (written by lab-check), or None before any check."""
    try:
        doc = json.loads((workspace / ".check" / "results.json").read_text())
        return doc if isinstance(doc.get("results"), list) else None
    except (OSError, ValueError, AttributeError):
        return None


def task_scores(doc: dict | None) -> dict[str, tuple[int, int]]:
    """task -> (checks passed, checks run), from one results.json."""
    scores: dict[str, tuple[int, int]] = {}
    for row in (doc or {}).get("results", []):
        if not isinstance(row, dict) or "task" not in row:
            continue
        passed, total = scores.get(row["task"], (0, 0))
        scores[row["task"]] = (passed + bool(row.get("pass")), total + 1)
    return scores


def exercise_names() -> list[str]:
    folder = ROOT / "workspace" / "exercises"
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def report_table(records: list[LabRecord], results: dict[str, dict | None],
                 exercises: list[str]) -> tuple[list[str], list[list[str]]]:
    """The report: a header and a row per student; a cell per exercise, "passed/run" or ""."""
    tasks = list(exercises)
    for doc in results.values():
        tasks += sorted(t for t in task_scores(doc) if t not in tasks)
    header = ["id", "name", *tasks, "passed", "updated"]
    rows = []
    for r in records:
        doc = results.get(r.id)
        scores = task_scores(doc)
        cells = [f"{scores[t][0]}/{scores[t][1]}" if t in scores else "" for t in tasks]
        done = sum(1 for t in tasks if t in scores and scores[t][0] == scores[t][1])
        rows.append([r.id, r.name, *cells, str(done), (doc or {}).get("updated", "")])
    return header, rows


def report_csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def report_html(header: list[str], rows: list[list[str]]) -> str:
    """One page: a row per student, a column per exercise, green when every check passed."""
    e = html.escape

    def cell(value: str) -> str:
        m = re.fullmatch(r"(\d+)/(\d+)", value)
        kind = "" if not m else (' class="pass"' if m.group(1) == m.group(2) else ' class="fail"')
        return f"<td{kind}>{e(value)}</td>"

    head = "".join(f"<th>{e(h)}</th>" for h in header)
    title = _("Exercise results of the class")
    explain = _("Each cell: checks passed / checks run, from the latest lab-check of that exercise.")
    body = "\n".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>socklab</title><style>"
            "body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
            "padding:.2em .5em}.pass{background:#c8f0c8}.fail{background:#f6d0d0}</style></head><body>\n"
            f"<h1>{e(title)}</h1>\n<p>{e(explain)}</p>\n"
            f"<table><tr>{head}</tr>\n{body}\n</table></body></html>\n")


# --------------------------------------------------------------------------- running labs

def lab_env(record: LabRecord) -> dict[str, str]:
    env = labtool.compose_env(record.id)
    env["LAB_PORT_PREFIX"] = str(record.prefix)
    env["LAB_WORKSPACE"] = str(record.folder / "workspace")   # the host folder compose.yaml mounts
    env.update(ssh_env(record.folder))
    env["CLASS_BIND"] = os.environ.get("CLASS_BIND") or "127.0.0.1"
    return env


def compose(record: LabRecord, *args: str, **kw) -> subprocess.CompletedProcess:
    cmd = labtool.compose_command() + ["-p", labtool.project_name(record.id), "--project-directory", str(ROOT),
                                       "-f", str(class_compose()), "-f", str(OVERRIDE), *args]
    return subprocess.run(cmd, env=lab_env(record), cwd=ROOT, **kw)


def lab_state(record: LabRecord) -> tuple[int, int]:
    """(hosts ready, hosts there) of a student's lab: ready = running, and not found unhealthy.

    Docker's own healthcheck runs rarely (compose.yaml): until its first run a host is
    "starting", which says nothing yet; `make class` itself waits by probing
    (tools/lab.py's ``wait_ready``)."""
    ready = 0
    found = labtool.containers(record.id)
    for c in found:
        state = c["State"]
        if state["Status"] == "running" and state.get("Health", {}).get("Status") != "unhealthy":
            ready += 1
    return ready, len(found)


def ssh_answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """Does an SSH server greet on host:port (``SSH-2.0-...``)?"""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def probe_address() -> str:
    bind = os.environ.get("CLASS_BIND") or "127.0.0.1"
    return "127.0.0.1" if bind in ("0.0.0.0", "") else ("::1" if bind == "::" else bind)


def to_start(records: list[LabRecord], state=lab_state, hosts: int | None = None) -> list[LabRecord]:
    """The labs a (re-)run has to start: those with a host missing or not ready."""
    hosts = hosts if hosts is not None else len(labtool.services())
    return [r for r in records if state(r) != (hosts, hosts)]


def start_one(record: LabRecord, timeout: float = 300.0) -> None:
    res = compose(record, "up", "-d", "--remove-orphans", capture_output=True, text=True)
    if res.returncode != 0:
        raise ClassError(_("lab {id}: compose could not start it: {error}").format(
            id=record.id, error=(res.stderr.strip().splitlines() or ["?"])[-1]))
    try:
        labtool.wait_ready(record.id, timeout=timeout)
    except labtool.LabError as exc:
        raise ClassError(f"lab {record.id}: {exc}") from None
    deadline = time.monotonic() + 60
    while not ssh_answers(probe_address(), record.ssh_port):
        if time.monotonic() > deadline:
            raise ClassError(_("lab {id}: sshd does not answer on port {port}").format(
                id=record.id, port=record.ssh_port))
        time.sleep(0.5)


class Progress:
    """One line that says how far the class has come: ``class: 12/30 ready, 3 starting``."""

    def __init__(self, total: int, stopping: bool = False):
        self.total, self.ready, self.failed, self.starting = total, 0, 0, 0
        self.stopping = stopping
        self.done_shown = -1
        self.lock = threading.Lock()
        self.tty = sys.stdout.isatty()

    def show(self, final: bool = False) -> None:
        if self.stopping:
            line = _("class: {done}/{total} labs stopped, {busy} stopping, {failed} failed")
        else:
            line = _("class: {done}/{total} labs ready, {busy} starting, {failed} failed")
        line = line.format(done=self.ready, total=self.total, busy=self.starting, failed=self.failed)
        if self.tty:
            print("\r" + line + ("\n" if final else ""), end="", flush=True)
        elif final or self.done_shown != self.ready + self.failed:     # a log: a line per lab done
            self.done_shown = self.ready + self.failed
            print(line, flush=True)


def run_parallel(records: list[LabRecord], action, progress: Progress, jobs: int) -> list[str]:
    errors: list[str] = []

    def one(record: LabRecord) -> None:
        with progress.lock:
            progress.starting += 1
            progress.show()
        try:
            action(record)
            ok = True
        except ClassError as exc:
            ok = False
            errors.append(str(exc))
        with progress.lock:
            progress.starting -= 1
            if ok:
                progress.ready += 1
            else:
                progress.failed += 1
            progress.show()

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        for future in [pool.submit(one, r) for r in records]:
            future.result()
    except KeyboardInterrupt:       # Ctrl-C: start no more labs (those starting finish)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    progress.show(final=True)
    return errors


def jobs() -> int:
    """CLASS_JOBS labs start at once; by default one per core, at least two."""
    try:
        return max(1, int(os.environ.get("CLASS_JOBS") or max(2, os.cpu_count() or 1)))
    except ValueError:
        raise ClassError(_("CLASS_JOBS must be a whole number")) from None


def records_for(students: list[Student]) -> list[LabRecord]:
    """Each student's record: the one kept in lab.json, else a new one (prefix, password)."""
    known = {r.id: r for r in load_records()}

    def busy(prefix: int) -> bool:
        return not all(ports.port_free(prefix * 100 + n) for n in (SSH_SUFFIX,))

    prefixes = allocate_prefixes(students, {i: r.prefix for i, r in known.items()}, busy, first=FIRST_PREFIX)
    records = []
    for s in students:
        old = known.get(s.id)
        if old and old.ssh_key == s.ssh_key and old.name == s.name:
            records.append(old)
            continue
        password = "" if s.ssh_key else (old.password if old and old.password else new_password())
        record = LabRecord(s.id, s.name, prefixes[s.id], password, s.ssh_key)
        record.save()
        records.append(record)
    return records


def check_bind() -> None:
    """CLASS_BIND must be one IP address of this machine's (or 0.0.0.0 / :: for all)."""
    bind = os.environ.get("CLASS_BIND", "")
    if not bind:
        return
    try:
        ipaddress.ip_address(bind)
    except ValueError:
        raise ClassError(_("CLASS_BIND={bind!r}: give an IP address of this server, "
                           "e.g. CLASS_BIND=192.168.1.10").format(bind=bind)) from None


def up(roster: str) -> int:
    if not roster:
        raise ClassError(_("name the roster: make class ROSTER=class.csv"))
    check_bind()
    students = read_roster(roster)
    labtool.check_docker()
    labtool.build()
    CLASSROOM.mkdir(exist_ok=True)
    CLASSROOM.chmod(0o700)      # passwords, host keys: the teacher's
    records = records_for(students)
    for r in records:
        prepare_folder(r)
    text_path, html_path = write_cards(records)
    missing = to_start(records)
    say(_("{total} students, {missing} labs to start ({jobs} at a time)").format(
        total=len(records), missing=len(missing), jobs=jobs()))
    started = time.monotonic()
    progress = Progress(len(records))
    progress.ready = len(records) - len(missing)
    errors = run_parallel(missing, start_one, progress, jobs())
    for error in errors:
        print(f"socklab: {error}", file=sys.stderr)
    say(_("class up in {seconds:.0f} s; cards for the students: {text} and {html}").format(
        seconds=time.monotonic() - started, text=text_path, html=html_path))
    return 1 if errors else 0


def down(delete: bool) -> int:
    records = load_records()
    if not records:
        say(_("no class labs recorded in {folder}").format(folder=CLASSROOM))
        return 0
    labtool.check_docker()
    args = ["down", "--remove-orphans"] + (["--volumes"] if delete else [])
    progress = Progress(len(records), stopping=True)

    def stop(record: LabRecord) -> None:
        res = compose(record, *args, capture_output=True, text=True)
        if res.returncode != 0:
            raise ClassError(f"lab {record.id}: {res.stderr.strip()[-300:]}")
        if delete:
            for name in ("ssh", "shadow", "lab.json"):
                path = record.folder / name
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
            if os.environ.get("CLASS_DELETE_WORKSPACES") == "1":
                shutil.rmtree(record.folder, ignore_errors=True)

    errors = run_parallel(records, stop, progress, jobs())
    for error in errors:
        print(f"socklab: {error}", file=sys.stderr)
    if delete:
        for name in ("cards.txt", "cards.html"):
            (CLASSROOM / name).unlink(missing_ok=True)
    return 1 if errors else 0


def disk_used(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def human(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def status() -> int:
    records = load_records()
    if not records:
        say(_("no class labs recorded in {folder}").format(folder=CLASSROOM))
        return 0
    labtool.check_docker()
    hosts = len(labtool.services())
    header = [_("student"), _("ssh port"), _("hosts ready"), _("checks passed"), _("last check"), _("disk")]
    rows = []
    for r in records:
        ready, _found = lab_state(r)
        doc = read_results(r.folder / "workspace")
        scores = task_scores(doc)
        passed = sum(p for p, _t in scores.values())
        run = sum(t for _p, t in scores.values())
        rows.append([r.id, str(r.ssh_port), f"{ready}/{hosts}", f"{passed}/{run}" if run else "-",
                     (doc or {}).get("updated", "-"), human(disk_used(r.folder / "workspace"))])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
    return 0


def report() -> int:
    records = load_records()
    if not records:
        say(_("no class labs recorded in {folder}").format(folder=CLASSROOM))
        return 0
    results = {r.id: read_results(r.folder / "workspace") for r in records}
    header, rows = report_table(records, results, exercise_names())
    (CLASSROOM / "report.csv").write_text(report_csv(header, rows))
    (CLASSROOM / "report.html").write_text(report_html(header, rows))
    say(_("report: {csv} and {html}").format(csv=CLASSROOM / "report.csv", html=CLASSROOM / "report.html"))
    return 0


def say(msg: str) -> None:
    print(f"socklab: {msg}", flush=True)


def main(argv: list[str]) -> int:
    verb = argv[0] if argv else "help"
    labtool.host_catalog()          # messages in Chinese when the teacher's locale says so
    try:
        if verb == "up":
            return up(argv[1] if len(argv) > 1 else os.environ.get("ROSTER", ""))
        if verb == "down":
            return down(delete=False)
        if verb == "clean":
            return down(delete=True)
        if verb == "status":
            return status()
        if verb == "report":
            return report()
        if verb == "cards":
            text_path, html_path = write_cards(load_records())
            say(f"{text_path}, {html_path}")
            return 0
        if verb == "bench":
            from tools import class_bench     # only here: it imports this module
            return class_bench.main(argv[1:])
        print(__doc__)
        return 0 if verb == "help" else 2
    except (ClassError, RosterError) as exc:
        print(f"socklab: {exc}", file=sys.stderr)
        return 1
    except labtool.LabError as exc:
        print(f"socklab: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"socklab: `{' '.join(map(str, exc.cmd))}` failed (exit {exc.returncode}).", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
