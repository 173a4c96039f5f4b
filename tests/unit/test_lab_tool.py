"""tools/lab.py's answers that need no Docker engine."""

import os
import subprocess
import sys

from labharness import ROOT


def test_a_bad_lab_name_is_one_line_not_a_traceback():
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "lab.py"), "map"], capture_output=True, text=True,
                         env={**os.environ, "LAB": "x y", "SOCKLAB_LANG": "en"}, timeout=60)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == ["socklab: LAB='x y': use letters, digits, '-' or '_' (up to 31 characters)."]
