"""tools/install.py on a real fresh Debian: a throw-away container of the lab's base image.

socklab/base:bookworm is Debian bookworm minbase with python3 and apt-get, and without make,
mmdebstrap, python3-venv, a Docker Compose, podman (and its pieces) or python3-yaml -- what a
fresh machine lacks.  The container has no network, so
nothing is installed there: only what is found missing and the command a user is told.
"""

from __future__ import annotations

import subprocess

import pytest

from labharness import ROOT, need_docker

IMAGE = "socklab/base:bookworm"
PODMAN = ["podman", "catatonit", "netavark", "aardvark-dns"]      # for the Kubernetes test


@pytest.fixture(scope="module")
def fresh_debian():
    need_docker("the install tests")
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode != 0:
        pytest.fail(f"this test needs the image {IMAGE}: build it with `make images`", pytrace=False)

    def run(*args: str, user: str = "0:0") -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker", "run", "--rm", "--network", "none", "--user", user,
             "-v", f"{ROOT / 'tools' / 'install.py'}:/socklab/install.py:ro",
             IMAGE, "python3", "/socklab/install.py", *args],
            capture_output=True, text=True, timeout=120)

    return run


def reported(out: str, kind: str) -> list[str]:
    prefix = f"socklab: {kind}: "
    return [line[len(prefix):].split(" ", 1)[0] for line in out.splitlines() if line.startswith(prefix)]


def test_check_finds_what_make_lab_and_make_test_lack(fresh_debian):
    res = fresh_debian("--check", "lab", "test")
    assert res.returncode == 1, res.stdout + res.stderr
    assert sorted(reported(res.stdout, "missing")) == sorted(["mmdebstrap", "python3-venv", "docker-compose",
                                                              "compose-v2", *PODMAN])
    assert reported(res.stdout, "present") == []
    assert res.stdout.splitlines()[-1] == ("socklab: to install what is missing, run: "
                                           "apt-get install -y mmdebstrap python3-venv docker-compose "
                                           + " ".join(PODMAN))
    assert "socklab: to install compose-v2, run as root: python3 tools/install.py compose-v2" in res.stdout


def test_check_everything_also_finds_make_missing(fresh_debian):
    res = fresh_debian("--check")
    assert res.returncode == 1, res.stdout + res.stderr
    assert sorted(reported(res.stdout, "missing")) == sorted(["make", "mmdebstrap", "python3-venv", "docker-compose",
                                                              "compose-v2", *PODMAN, "python3-yaml"])


def test_not_root_is_told_the_exact_command(fresh_debian):
    res = fresh_debian("lab", "test", user="1000:1000")
    assert res.returncode == 1
    assert res.stdout == ""
    [line] = res.stderr.splitlines()
    needed = " ".join(["mmdebstrap", "python3-venv", "docker-compose", *PODMAN])   # the Debian packages come first
    assert line.startswith(f"socklab: make lab and make test needs {needed} (")
    assert f"run: su -c 'apt-get install -y {needed}'" in line     # no sudo in the image
