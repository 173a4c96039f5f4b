"""tools/lab.py's answers that need no Docker engine."""

import os
import subprocess
import sys
from pathlib import Path

from labharness import ROOT


def test_a_bad_lab_name_is_one_line_not_a_traceback():
    run = subprocess.run([sys.executable, "-m", "tools.lab", "map"], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "LAB": "x y", "SOCKLAB_LANG": "en"}, timeout=60)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == ["socklab: LAB='x y': use letters, digits, '-' or '_' (up to 31 characters)."]


def lab_tool_in(tmp_path, *programs: str, compose: str):
    """tools/lab.py's `compose version` with only *programs* on PATH, each a fake that prints its name."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for name in programs:
        fake = bin_ / name
        fake.write_text(f"#!/bin/sh\necho {name} \"$@\"\n")
        fake.chmod(0o755)
    return subprocess.run([sys.executable, "-m", "tools.lab", "compose", "version"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, "PATH": str(bin_), "SOCKLAB_COMPOSE": compose, "SOCKLAB_LANG": "en"})


def test_socklab_compose_picks_v1_or_v2_and_says_when_it_is_missing(tmp_path, monkeypatch):
    # a fake docker (engine answers, `docker compose` works) and a fake docker-compose
    bin_ = tmp_path
    (bin_ / "a").mkdir()
    run = lab_tool_in(bin_ / "a", "docker", "docker-compose", compose="v1")
    assert run.returncode == 0 and run.stdout.startswith("docker-compose -p "), run
    (bin_ / "b").mkdir()
    run = lab_tool_in(bin_ / "b", "docker", "docker-compose", compose="v2")
    assert run.returncode == 0 and run.stdout.startswith("docker compose -p "), run
    (bin_ / "c").mkdir()
    run = lab_tool_in(bin_ / "c", "docker", "docker-compose", compose="")       # both there: v2
    assert run.stdout.startswith("docker compose -p "), run
    (bin_ / "d").mkdir()
    run = lab_tool_in(bin_ / "d", "docker", compose="v1")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip() == ("socklab: SOCKLAB_COMPOSE=v1, but `docker-compose` is not installed "
                                  "(as root, `python3 tools/install.py test` installs both Composes).")
    (bin_ / "e").mkdir()
    run = lab_tool_in(bin_ / "e", "docker", compose="v3")
    assert run.returncode == 1
    assert run.stderr.strip() == "socklab: SOCKLAB_COMPOSE='v3': use v1 (docker-compose) or v2 (docker compose)."


def test_the_readiness_probe_is_the_healthcheck_docker_was_given():
    from tools import lab
    probe = lab.probe_command
    assert probe({"Config": {"Healthcheck": {"Test": ["CMD", "lab-probe", "tcp", "21"]}}}) == ["lab-probe", "tcp", "21"]
    assert probe({"Config": {"Healthcheck": {"Test": ["CMD-SHELL", "lab-probe udp 8888"]}}}) == [
        "/bin/sh", "-c", "lab-probe udp 8888"]
    assert probe({"Config": {"Healthcheck": {"Test": ["NONE"]}}}) is None
    assert probe({"Config": {"Image": "x"}}) is None        # no healthcheck: running is ready


def test_make_lab_waits_for_a_host_with_one_exec_of_its_probe():
    """lab-probe waits inside the host (one docker exec); another healthcheck is asked as it is."""
    from tools import lab
    assert lab.waiting_probe(["lab-probe", "tcp", "21"], 42.7) == ["lab-probe", "--wait", "42", "tcp", "21"]
    assert lab.waiting_probe(["lab-probe", "udp", "8888"], 0.2) == ["lab-probe", "--wait", "1", "udp", "8888"]
    assert lab.waiting_probe(["/bin/sh", "-c", "true"], 30) == ["/bin/sh", "-c", "true"]
    assert lab.waiting_probe(None, 30) == ["true"]


def test_run_by_its_path_from_anywhere_it_answers_as_make_runs_it(tmp_path):
    """`python3 tools/lab.py` (the README's) from another folder: the same answer as `python3 -m tools.lab`."""
    env = {**os.environ, "LAB": "x y", "SOCKLAB_LANG": "en"}
    by_path = subprocess.run([sys.executable, str(ROOT / "tools" / "lab.py"), "map"], capture_output=True,
                             text=True, cwd=tmp_path, env=env, timeout=60)
    as_module = subprocess.run([sys.executable, "-m", "tools.lab", "map"], capture_output=True, text=True,
                               cwd=ROOT, env=env, timeout=60)
    assert (by_path.returncode, by_path.stdout, by_path.stderr) == \
        (as_module.returncode, as_module.stdout, as_module.stderr) == (1, "", as_module.stderr)
    assert as_module.stderr.startswith("socklab: LAB='x y'")


def test_every_tool_exists_once():
    """The tools import each other as tools.<name>: one module each, so a LabError raised by
    one tool is the LabError another catches."""
    from tools import capture, class_bench, classroom, impair, install, k8s, lab, ports
    assert capture.labtool is classroom.labtool is class_bench.lab is lab
    assert k8s.classroom is class_bench.classroom is classroom
    assert lab.impair is impair and lab.install is install
    assert ports.LabError is lab.LabError
    for name, module in list(sys.modules.items()):      # and no copy under another name
        path = Path(getattr(module, "__file__", None) or "/")
        if path.parent == ROOT / "tools":
            assert name == ("tools" if path.stem == "__init__" else f"tools.{path.stem}"), (name, path)
