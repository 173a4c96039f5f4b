"""`make test` hands the longest test files out first (tests/conftest.py's LONGEST_FIRST).

Two things can undo that without any test failing: a long file renamed (it silently drops to
the end of the queue), and pytest-xdist's own re-sorting of files by their number of tests,
which ``--no-loadscope-reorder`` turns off.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# read from the file: `conftest` is also tests/integration/conftest.py's module name
CONFTEST = ast.parse((ROOT / "tests" / "conftest.py").read_text())
LONGEST_FIRST = next(ast.literal_eval(node.value) for node in CONFTEST.body
                     if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "LONGEST_FIRST")


def test_every_longest_file_exists():
    present = {p.name for p in (ROOT / "tests").rglob("test_*.py")}
    missing = [name for name in LONGEST_FIRST if name not in present]
    assert not missing, f"LONGEST_FIRST names files that are not there (renamed?): {missing}"


def test_make_test_keeps_the_collection_order():
    line = next(line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("PYTEST :="))
    assert "--dist loadfile" in line, line
    assert re.search(r"--no-loadscope-reorder\b", line), \
        f"without --no-loadscope-reorder pytest-xdist re-sorts the files by their number of tests:\n{line}"
