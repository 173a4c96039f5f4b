"""README.zh-CN.md keeps in step with README.md.

Every ``##`` section of README.md has its Chinese section (the table below maps the headings:
a new English section has no entry until someone translates it, and this test says so), and
every ``make`` target, client command (pyproject's [project.scripts], plus ``lab-*``
commands written as code) and lab host (compose.yaml's services) that README.md names is named in the
Chinese README too.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_ZH = ROOT / "README.zh-CN.md"

# English `##` heading of README.md -> its `##` heading in README.zh-CN.md
SECTIONS = {
    "The two commands": "两条命令",
    "The lab": "实验环境",
    "Sockets": "套接字",
    "FTP": "FTP",
    "News": "新闻组",
    "E-mail": "电子邮件",
    "Exercises and `make check`": "练习与 `make check`",
    "Shaping the network": "改变网络条件",
    "Seeing packets": "观察数据包",
    "Reliability": "可靠性",
    "Kubernetes": "Kubernetes",
    "Classroom": "课堂",
    "Tests": "测试",
    "Bench": "性能测试",
    "Layout": "目录结构",
}


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def headings(path: Path) -> list[str]:
    """The level-2 headings, outside code blocks."""
    found, fenced = [], False
    for line in text(path).splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            found.append(line[3:].strip())
    return found


def words(path: Path) -> set[str]:
    """Every command-like word of a file: names with letters, digits and dashes."""
    return set(re.findall(r"[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]", text(path)))


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):", text(ROOT / "Makefile"), re.M))


def named_in_readme(names: set[str]) -> set[str]:
    readme = words(README)
    return {n for n in names if n in readme}


def test_the_readmes_link_to_each_other():
    first_lines = text(README).splitlines()[:4]
    assert "中文说明：[README.zh-CN.md](README.zh-CN.md)" in first_lines, \
        "README.md needs the line `中文说明：[README.zh-CN.md](README.zh-CN.md)` under its title"
    assert "(README.md)" in "\n".join(text(README_ZH).splitlines()[:4]), "README.zh-CN.md must link back at the top"


def test_every_section_has_its_chinese_section():
    zh = headings(README_ZH)
    untranslated = [h for h in headings(README) if h not in SECTIONS]
    assert not untranslated, (f"README.md has new section(s) {untranslated}: translate them in README.zh-CN.md "
                              "and add them to SECTIONS in tests/unit/test_readme_zh.py")
    missing = [f"{h!r} -> {SECTIONS[h]!r}" for h in headings(README) if SECTIONS[h] not in zh]
    assert not missing, "README.zh-CN.md lacks the section(s): " + ", ".join(missing)


def test_every_make_target_of_the_readme_is_in_the_chinese_one():
    targets = set(re.findall(r"\bmake ([a-z][a-z-]*)", text(README))) & make_targets()
    assert targets, "README.md names no make target?"
    zh = text(README_ZH)
    missing = sorted(t for t in targets if not re.search(rf"\bmake {re.escape(t)}\b", zh))
    assert not missing, "README.zh-CN.md does not mention: " + ", ".join(f"make {t}" for t in missing)


def test_every_client_command_of_the_readme_is_in_the_chinese_one():
    scripts = set(tomllib.loads(text(ROOT / "pyproject.toml"))["project"]["scripts"])
    commands = named_in_readme(scripts) | set(re.findall(r"`(lab-[a-z]+)\b", text(README)))
    assert "tcp-client" in commands
    missing = sorted(commands - words(README_ZH))
    assert not missing, "README.zh-CN.md does not mention the command(s): " + ", ".join(missing)


def test_every_lab_host_of_the_readme_is_in_the_chinese_one():
    services = set(yaml.safe_load(text(ROOT / "compose.yaml"))["services"])
    hosts = named_in_readme(services)
    assert "tcp-server" in hosts
    missing = sorted(hosts - words(README_ZH))
    assert not missing, "README.zh-CN.md does not mention the lab host(s): " + ", ".join(missing)
