"""Every runnable program of the student's guides runs in the lab, as a student runs it.

A runnable block in docs/guide.md or docs/guide.zh-CN.md is a fenced block whose info string
is ``python run``; its ``# expect: TEXT`` comments name what its output must contain.  Each is
written into the client's workspace and run there with ``python3``, against the lab's hosts.
"""

from __future__ import annotations

import re

import pytest

from labharness import ROOT

GUIDES = [ROOT / "docs" / "guide.md", ROOT / "docs" / "guide.zh-CN.md"]
BLOCK = re.compile(r"^```python run[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def runnable_blocks():
    blocks = []
    for guide in GUIDES:
        text = guide.read_text(encoding="utf-8")
        for number, m in enumerate(BLOCK.finditer(text), 1):
            line = text.count("\n", 0, m.start()) + 1
            blocks.append(pytest.param(guide.name, line, m.group(1), id=f"{guide.name}:{line}"))
    return blocks


BLOCKS = runnable_blocks()


def test_every_guide_has_runnable_blocks_with_expectations():
    for guide in GUIDES:
        assert any(p.values[0] == guide.name for p in BLOCKS), f"{guide.name} has no ```python run block"
    for p in BLOCKS:
        name, line, source = p.values
        assert re.search(r"^# expect: \S", source, re.M), f"{name}:{line}: a runnable block without '# expect:'"


def test_both_guides_cover_the_chapter_sections():
    sections = ["1.2", "1.3.3", "1.3.4", "1.3.5", "1.3.6", "1.4", "2.1", "2.1.2", "2.1.3", "2.1.4",
                "2.2", "2.2.3", "2.2.4", "3.1"]
    for guide in GUIDES:
        headings = re.findall(r"^#{2,3} (\d+(?:\.\d+)*)\b", guide.read_text(encoding="utf-8"), re.M)
        missing = [s for s in sections if s not in headings]
        assert not missing, f"{guide.name} has no part for section(s) {missing}"


@pytest.mark.parametrize("guide, line, source", BLOCKS)
def test_guide_block_runs_in_the_lab(lab, guide, line, source):
    name = f"guide_{guide.split('.')[0].replace('-', '_')}_{line}.py"
    put = lab.exec("client", ["sh", "-c", f"mkdir -p guides && cat > guides/{name}"], input=source)
    assert put.ok, put
    result = lab.exec("client", ["python3", f"guides/{name}"], env={"PYTHONIOENCODING": "utf-8"}, timeout=60)
    assert result.ok, f"{guide}:{line}\n{result}"
    for expected in re.findall(r"^# expect: (.+?)\s*$", source, re.M):
        assert expected in result.stdout, f"{guide}:{line}: {expected!r} not in the output\n{result}"
