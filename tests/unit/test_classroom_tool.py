"""tools/classroom.py's parts that need no Docker: port blocks, cards, the report, re-runs."""

import csv
import io
import json
import os
import subprocess
import sys

import pytest
import yaml

from labharness import ROOT
from socklab.roster import Student
from tools import classroom, ports


Record = classroom.LabRecord


def students(*ids):
    return [Student(i, i.title()) for i in ids]


# --------------------------------------------------------------------------- port blocks

def test_each_student_gets_a_block_of_their_own_from_300_up():
    got = classroom.allocate_prefixes(students("ann", "ben", "cai"), {})
    assert got == {"ann": 300, "ben": 301, "cai": 302}


def test_a_recorded_block_is_kept_and_never_given_to_another():
    got = classroom.allocate_prefixes(students("ann", "ben", "cai"), {"ben": 300, "old": 301})
    assert got == {"ben": 300, "ann": 302, "cai": 303}


def test_busy_blocks_are_skipped():
    got = classroom.allocate_prefixes(students("ann", "ben"), {}, busy=lambda p: p in (300, 302))
    assert got == {"ann": 301, "ben": 303}


def test_a_hundred_and_more_students_all_differ():
    ids = [f"s{n:03d}" for n in range(341)]
    got = classroom.allocate_prefixes(students(*ids), {})
    assert len(set(got.values())) == 341 and max(got.values()) == 640


def test_too_many_students_is_a_clear_error():
    with pytest.raises(classroom.ClassError, match="no free port block left for s341"):
        classroom.allocate_prefixes(students(*[f"s{n:03d}" for n in range(342)]), {})


def test_the_ssh_port_is_ppp02_which_compose_yaml_leaves_free():
    assert Record("ann", "Ann", 417).ssh_port == 41702
    text = (ROOT / "compose.yaml").read_text()
    assert "}02:" not in text and "}02-" not in text


# --------------------------------------------------------------------------- the class compose file

def test_a_class_lab_publishes_no_port_of_compose_yaml():
    doc = yaml.safe_load(classroom.without_ports((ROOT / "compose.yaml").read_text()))
    full = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert set(doc["services"]) == set(full["services"])
    assert [s for s in doc["services"].values() if "ports" in s] == []
    # nothing else went: every other key of every host is still there
    for name, service in full["services"].items():
        assert {k for k in service if k != "ports"} == set(doc["services"][name]), name


def test_the_override_publishes_only_ssh_on_class_bind():
    doc = yaml.safe_load((ROOT / "tools" / "classroom.compose.yaml").read_text())
    assert list(doc["services"]) == ["client"]
    assert doc["services"]["client"]["ports"] == ["${CLASS_BIND:-127.0.0.1}:${LAB_PORT_PREFIX}02:2222/tcp"]


def test_every_host_of_a_lab_has_cpu_memory_and_process_limits():
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for name, service in doc["services"].items():
        assert {"cpus", "mem_limit", "pids_limit"} <= set(service), name
        assert float(service["cpus"]) <= 1.0, name


# --------------------------------------------------------------------------- sshd, shadow, cards

def test_password_login_only_with_a_password_of_ones_own():
    with_key = classroom.sshd_config(Record("ann", "Ann", 300, "", "ssh-ed25519 AAAA k"))
    assert "PasswordAuthentication no" in with_key
    with_password = classroom.sshd_config(Record("ben", "Ben", 301, "abcd-efgh-jkmn"))
    assert "PasswordAuthentication yes" in with_password
    for text in (with_key, with_password):
        assert "UsePAM no" in text and "AllowUsers student" in text and "PermitRootLogin no" in text
        assert "PermitEmptyPasswords no" in text


def test_shadow_holds_the_students_hash_and_nothing_else_can_log_in():
    import crypt  # noqa: F401 - the check below needs it (Python < 3.13)
    lines = classroom.shadow(Record("ben", "Ben", 301, "abcd-efgh-jkmn")).splitlines()
    users = {line.split(":")[0]: line.split(":")[1] for line in lines}
    assert users["root"] == "*" and users["socklab"] == "!"
    assert users["student"].startswith("$6$")
    assert crypt.crypt("abcd-efgh-jkmn", users["student"]) == users["student"]
    assert crypt.crypt("wrong", users["student"]) != users["student"]
    keyed = classroom.shadow(Record("ann", "Ann", 300, "", "ssh-ed25519 AAAA k"))
    assert "student:*:" in keyed     # no password at all, but not locked: the key works


def test_sshd_files_are_kept_while_they_hold_and_remade_when_not(tmp_path):
    """A re-run keeps the host key and the password hash (a new salt would change the file
    for nothing); a new password or a key instead of one gets a new shadow."""
    ben = Record("ben", "Ben", 301, "abcd-efgh-jkmn")
    classroom.write_ssh_files(ben, tmp_path, owner=None)
    key, shadow = (tmp_path / "ssh" / "ssh_host_ed25519_key").read_text(), (tmp_path / "shadow").read_text()
    classroom.write_ssh_files(ben, tmp_path, owner=None)
    assert (tmp_path / "ssh" / "ssh_host_ed25519_key").read_text() == key
    assert (tmp_path / "shadow").read_text() == shadow
    assert oct((tmp_path / "shadow").stat().st_mode & 0o777) == "0o400"
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "ssh").iterdir()} == {"0o600"}
    new = Record("ben", "Ben", 301, "pqrs-tuvw-xyz2")
    classroom.write_ssh_files(new, tmp_path, owner=None)
    assert classroom.shadow_matches((tmp_path / "shadow").read_text(), new)
    assert not classroom.shadow_matches((tmp_path / "shadow").read_text(), ben)
    keyed = Record("ben", "Ben", 301, "", "ssh-ed25519 AAAA k")
    classroom.write_ssh_files(keyed, tmp_path, owner=None)
    assert "student:*:" in (tmp_path / "shadow").read_text()
    assert (tmp_path / "ssh" / "authorized_keys").read_text() == "ssh-ed25519 AAAA k\n"
    assert (tmp_path / "ssh" / "ssh_host_ed25519_key").read_text() == key


def test_passwords_are_readable_and_differ():
    seen = {classroom.new_password() for _ in range(200)}
    assert len(seen) == 200
    for p in seen:
        assert len(p) == 14 and p.count("-") == 2
        assert not set(p) & set("01lio")


def test_a_card_says_where_and_how_to_log_in():
    os.environ["SOCKLAB_LANG"] = "en"
    text = classroom.card_text(Record("ben", "Ben Li", 301, "abcd-efgh-jkmn"), "10.0.0.5")
    assert "Ben Li (ben)" in text
    assert "10.0.0.5" in text and "30102" in text and "student" in text and "abcd-efgh-jkmn" in text
    assert "ssh -p 30102 student@10.0.0.5" in text
    keyed = classroom.card_text(Record("ann", "Ann", 300, "", "ssh-ed25519 AAAA k"), "h")
    assert "SSH key" in keyed


def test_the_html_sheet_escapes_names_and_has_a_card_per_student():
    records = [Record("ann", "<Ann & co>", 300, "", "ssh-ed25519 AAAA k"), Record("ben", "Ben", 301, "p-w")]
    page = classroom.cards_html(records, "host.example")
    assert page.count('class="card"') == 2
    assert "&lt;Ann &amp; co&gt;" in page and "<Ann" not in page
    assert "ssh -p 30102 student@host.example" in page


def test_class_bind_on_every_address_prints_this_machine_on_the_card(monkeypatch):
    monkeypatch.setenv("CLASS_BIND", "0.0.0.0")
    monkeypatch.delenv("CLASS_HOST", raising=False)
    assert classroom.card_host() not in ("0.0.0.0", "")
    monkeypatch.setenv("CLASS_BIND", "192.168.1.10")
    assert classroom.card_host() == "192.168.1.10"
    monkeypatch.setenv("CLASS_HOST", "lab.school.example")
    assert classroom.card_host() == "lab.school.example"


# --------------------------------------------------------------------------- the report

def results(*rows, updated="2026-12-04T10:00:00+0000"):
    return {"student": "student", "host": "client", "updated": updated,
            "results": [{"task": t, "check": c, "pass": p} for t, c, p in rows]}


def test_the_report_has_a_row_per_student_and_a_column_per_exercise():
    records = [Record("ann", "Ann", 300), Record("ben", "Ben", 301), Record("cai", "Cai", 302)]
    docs = {"ann": results(("01-tcp-server", "a", True), ("01-tcp-server", "b", True),
                           ("02-tcp-client", "a", False)),
            "ben": results(("02-tcp-client", "a", True), ("99-extra", "x", True)),
            "cai": None}
    header, rows = classroom.report_table(records, docs, ["01-tcp-server", "02-tcp-client"])
    assert header == ["id", "name", "01-tcp-server", "02-tcp-client", "99-extra", "passed", "updated"]
    assert rows[0] == ["ann", "Ann", "2/2", "0/1", "", "1", "2026-12-04T10:00:00+0000"]
    assert rows[1][2:6] == ["", "1/1", "1/1", "2"]
    assert rows[2] == ["cai", "Cai", "", "", "", "0", ""]
    table = list(csv.reader(io.StringIO(classroom.report_csv(header, rows))))
    assert table[0] == header and table[1] == rows[0]
    page = classroom.report_html(header, rows)
    assert page.count("<tr>") == 4
    assert '<td class="pass">2/2</td>' in page and '<td class="fail">0/1</td>' in page


def test_results_json_from_lab_check_is_read_and_junk_is_not(tmp_path):
    from socklab.check import report
    from socklab.check.framework import Result
    report.save(tmp_path / "ws" / ".check", [
        Result(task="01-tcp-server", check="c1", title="t", passed=True),
        Result(task="01-tcp-server", check="c2", title="t", passed=False)])
    assert classroom.task_scores(classroom.read_results(tmp_path / "ws")) == {"01-tcp-server": (1, 2)}
    (tmp_path / "bad" / ".check").mkdir(parents=True)
    (tmp_path / "bad" / ".check" / "results.json").write_text("[1, 2")
    assert classroom.read_results(tmp_path / "bad") is None
    assert classroom.read_results(tmp_path / "none") is None


# --------------------------------------------------------------------------- re-runs

def test_a_rerun_starts_only_the_labs_not_ready():
    records = [Record("ann", "Ann", 300), Record("ben", "Ben", 301), Record("cai", "Cai", 302)]
    state = {"ann": (10, 10), "ben": (9, 10), "cai": (0, 0)}
    todo = classroom.to_start(records, state=lambda r: state[r.id], hosts=10)
    assert [r.id for r in todo] == ["ben", "cai"]
    state["ben"] = state["cai"] = (10, 10)
    assert classroom.to_start(records, state=lambda r: state[r.id], hosts=10) == []


def test_records_are_kept_across_runs_and_follow_the_roster(tmp_path, monkeypatch):
    monkeypatch.setattr(classroom, "CLASSROOM", tmp_path)
    monkeypatch.setattr(ports, "port_free", lambda port: True)
    first = classroom.records_for([Student("ann", "Ann"), Student("ben", "Ben", "ssh-ed25519 AAAA k")])
    assert first[0].password and first[1].password == ""
    again = classroom.records_for([Student("ann", "Ann"), Student("ben", "Ben", "ssh-ed25519 AAAA k"),
                                   Student("cai", "Cai")])
    assert again[0] == first[0] and again[1] == first[1]         # same port, same password
    assert again[2].prefix not in (first[0].prefix, first[1].prefix)
    assert json.loads((tmp_path / "ann" / "lab.json").read_text())["password"] == first[0].password
    assert oct((tmp_path / "ann" / "lab.json").stat().st_mode & 0o777) == "0o600"


def test_the_seed_leaves_results_and_captures_out_and_never_overwrites(tmp_path):
    src = tmp_path / "src"
    for rel in ("exercises/01/task.py", "results/x.txt", "captures/a.pcap", ".check/results.json"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text("x")
    dst = tmp_path / "dst"
    assert classroom.seed_workspace(src, dst)
    assert sorted(p.name for p in dst.iterdir()) == ["exercises"]
    (dst / "exercises" / "01" / "task.py").write_text("the student's")
    assert not classroom.seed_workspace(src, dst)
    assert (dst / "exercises" / "01" / "task.py").read_text() == "the student's"


def test_a_bad_roster_is_one_line_not_a_traceback(tmp_path):
    roster = tmp_path / "class.csv"
    roster.write_text("id,name\nAnn Wu,Ann\n")
    run = subprocess.run([sys.executable, "-m", "tools.classroom", "up", str(roster)],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, "SOCKLAB_LANG": "en"}, timeout=60)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "line 2" in run.stderr


def test_class_healthchecks_off_disables_every_healthcheck_and_nothing_else():
    text = (ROOT / "compose.yaml").read_text()
    doc = yaml.safe_load(classroom.without_healthchecks(text))
    full = yaml.safe_load(text)
    for name, service in full["services"].items():
        if "healthcheck" in service:
            assert doc["services"][name]["healthcheck"] == {"disable": True}, name
        assert {k: v for k, v in service.items() if k != "healthcheck"} == \
            {k: v for k, v in doc["services"][name].items() if k != "healthcheck"}, name


def test_class_bind_must_be_an_address(tmp_path):
    roster = tmp_path / "class.csv"
    roster.write_text("ann,Ann\n")
    run = subprocess.run([sys.executable, "-m", "tools.classroom", "up", str(roster)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60,
                         env={**os.environ, "SOCKLAB_LANG": "en", "CLASS_BIND": "classroom"})
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip() == ("socklab: CLASS_BIND='classroom': give an IP address of this server, "
                                  "e.g. CLASS_BIND=192.168.1.10")
