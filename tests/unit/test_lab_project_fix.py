"""The default lab's Compose project carries its checkout: two clones never share a lab."""

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from labharness import ROOT
from tools import lab


def default_project_of(checkout: Path) -> str:
    out = subprocess.run([sys.executable, "-c", "from tools import lab; print(lab.project_name(lab.DEFAULT_LAB))"],
                         cwd=checkout, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_two_checkouts_get_two_default_projects(tmp_path):
    for name in ("a", "b"):
        copy = tmp_path / name / "socklab-checkout"
        shutil.copytree(ROOT / "tools", copy / "tools", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(ROOT / "socklab", copy / "socklab", ignore=shutil.ignore_patterns("__pycache__"))
    a, b = (default_project_of(tmp_path / n / "socklab-checkout") for n in ("a", "b"))
    assert a != b
    for name, project in (("a", a), ("b", b)):
        path = str(tmp_path / name / "socklab-checkout")
        assert project == "socklab-" + hashlib.sha256(path.encode()).hexdigest()[:6]


def test_named_labs_keep_their_names():
    assert lab.project_name("alice") == "socklab-alice"
    assert lab.CHECKOUT_PROJECT == "socklab-" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:6]


def test_a_default_lab_started_under_the_old_name_is_still_found(monkeypatch):
    seen = {}

    def fake_run(cmd, **kw):
        seen["cmd"] = cmd
        return subprocess.CompletedProcess(cmd, 0, stdout=f"{ROOT}\n", stderr="")

    monkeypatch.setattr(lab, "_default_project", [])
    monkeypatch.setattr(lab.subprocess, "run", fake_run)
    assert lab.project_name(lab.DEFAULT_LAB) == "socklab"
    assert "label=com.docker.compose.project=socklab" in seen["cmd"]
    monkeypatch.setattr(lab, "_default_project", [])
    monkeypatch.setattr(lab.subprocess, "run",
                        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0, stdout="/elsewhere\n", stderr=""))
    assert lab.project_name(lab.DEFAULT_LAB) == lab.CHECKOUT_PROJECT
