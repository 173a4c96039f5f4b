"""Messages in the locale's language: every message has a Chinese translation, and it shows.

The messages are what the code wraps in ``_()`` / ``ngettext()`` (socklab/, services/,
clients/, tools/, found with Babel's Python extractor), plus two kinds that tools/lab.py
translates from other files: the ``## `` descriptions of the Makefile's targets (``make
help``) and compose.yaml's ``socklab.about`` labels (the lab map).

Run this file to bring the catalog up to date after changing messages::

    .venv/bin/python tests/unit/test_i18n.py --update

It rewrites socklab/locale/socklab.pot and adds each new message to the zh_CN .po with an
empty translation (and marks the ones no longer used obsolete); then translate them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "socklab" / "locale"
POT = LOCALE / "socklab.pot"
PO = LOCALE / "zh_CN" / "LC_MESSAGES" / "socklab.po"
SOURCES = ["socklab", "services", "clients", "tools"]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def extract() -> dict[str | tuple[str, str], list[str]]:
    """Every message id -> where it is used ("path:line")."""
    found: dict = {}
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(ROOT)
            for lineno, message, _comments, _context in extract_from_file("python", str(path), keywords=KEYWORDS):
                found.setdefault(message, []).append(f"{rel}:{lineno}")
    for lineno, line in enumerate((ROOT / "Makefile").read_text().splitlines(), 1):
        m = re.match(r"^([a-z0-9-]+):.*## (.*)", line)
        if m:
            found.setdefault(m.group(2).strip(), []).append(f"Makefile:{lineno}")
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    for name, service in services.items():
        about = (service.get("labels") or {}).get("socklab.about")
        if about:
            found.setdefault(about, []).append(f"compose.yaml:{name}")
    return found


def catalog_key(message) -> str:
    return message[0] if isinstance(message, tuple) else message


def read_catalog(path: Path = PO) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale="zh_CN")


def test_every_message_has_a_chinese_translation():
    catalog = read_catalog()
    missing = []
    for message, where in sorted(extract().items(), key=lambda item: catalog_key(item[0])):
        entry = catalog.get(catalog_key(message))
        strings = entry.string if entry is not None else None
        if isinstance(strings, (tuple, list)):
            empty = not all(strings)
        else:
            empty = not strings
        if entry is None or empty or entry.fuzzy:
            state = "missing" if entry is None else ("fuzzy" if entry.fuzzy else "empty")
            missing.append(f"  {state}: {catalog_key(message)!r}  ({', '.join(where[:3])})")
    assert not missing, (f"{len(missing)} message(s) without a Chinese translation in {PO.relative_to(ROOT)}; "
                         "run `.venv/bin/python tests/unit/test_i18n.py --update`, then translate:\n"
                         + "\n".join(missing))


def test_translations_keep_the_placeholders():
    """A translation names the same {fields} as its message (or .format() would fail)."""
    bad = []
    for entry in read_catalog():
        if not entry.id or not entry.string:
            continue
        ids = entry.id if isinstance(entry.id, (tuple, list)) else (entry.id,)
        strings = entry.string if isinstance(entry.string, (tuple, list)) else (entry.string,)
        want = set(re.findall(r"\{(\w*)[^}]*\}", ids[0]))
        for s in strings:
            if set(re.findall(r"\{(\w*)[^}]*\}", s)) != want:
                bad.append(f"  {ids[0]!r} -> {s!r}")
    assert not bad, "translations with other placeholders than their message:\n" + "\n".join(bad)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    """The .po compiled with Babel into a folder that SOCKLAB_LOCALE_DIR can name."""
    folder = tmp_path_factory.mktemp("locale")
    mo = folder / "zh_CN" / "LC_MESSAGES" / "socklab.mo"
    mo.parent.mkdir(parents=True)
    with mo.open("wb") as f:
        write_mo(f, read_catalog())
    return folder


def client(env_extra: dict[str, str], compiled: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SOCKLAB_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")}
    env.update({"SOCKLAB_LOCALE_DIR": str(compiled), "PYTHONIOENCODING": "utf-8", **env_extra})
    return subprocess.run([sys.executable, "-m", "socklab.clients.tcp_client", *args],
                          capture_output=True, text=True, env=env, timeout=30)


def test_english_is_the_default(compiled):
    result = client({}, compiled, "--host", "127.0.0.1", "--port", "1", "-m", "x")
    assert result.returncode == 1
    assert "connection refused (is the server running?)" in result.stderr
    assert "Talk to the TCP timestamp server." in client({}, compiled, "--help").stdout


@pytest.mark.parametrize("env_extra", [{"SOCKLAB_LANG": "zh"}, {"LANG": "zh_CN.UTF-8"},
                                       {"LC_ALL": "zh_CN.UTF-8", "LANG": "C.UTF-8"}])
def test_the_locale_gives_chinese(compiled, env_extra):
    result = client(env_extra, compiled, "--host", "127.0.0.1", "--port", "1", "-m", "x")
    assert result.returncode == 1
    assert result.stderr.startswith("tcp-client: ")
    assert "connection refused" not in result.stderr
    assert "拒绝" in result.stderr, result.stderr
    assert "127.0.0.1:1" in result.stderr
    help_text = client(env_extra, compiled, "--help").stdout
    assert "时间戳服务器" in help_text, help_text


def test_socklab_lang_wins_over_the_locale(compiled):
    result = client({"SOCKLAB_LANG": "en", "LANG": "zh_CN.UTF-8"}, compiled, "--host", "127.0.0.1",
                    "--port", "1", "-m", "x")
    assert "connection refused" in result.stderr


def test_no_compiled_catalog_means_english(tmp_path):
    result = client({"SOCKLAB_LANG": "zh"}, tmp_path, "--host", "127.0.0.1", "--port", "1", "-m", "x")
    assert result.returncode == 1 and "connection refused" in result.stderr


def test_language_from_environment():
    from socklab.i18n import language_from_environment as lang
    assert lang({}) == "en"
    assert lang({"LANG": "zh_CN.UTF-8"}) == "zh"
    assert lang({"LANG": "zh_CN.UTF-8", "LC_ALL": "C"}) == "en"
    assert lang({"SOCKLAB_LANG": "zh", "LANG": "en_US.UTF-8"}) == "zh"
    assert lang({"SOCKLAB_LANG": "", "LC_MESSAGES": "zh_TW.UTF-8"}) == "zh"


def test_tools_lab_passes_the_language_to_the_lab(monkeypatch):
    from tools import lab
    for var in ("SOCKLAB_LANG", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert lab.compose_env("socklab")["SOCKLAB_LANG"] == "zh"
    monkeypatch.setenv("SOCKLAB_LANG", "en")
    assert lab.compose_env("socklab")["SOCKLAB_LANG"] == "en"
    monkeypatch.delenv("SOCKLAB_LANG")
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert lab.compose_env("socklab")["SOCKLAB_LANG"] == "en"


def update() -> None:
    """Rewrite the template from the code; add new messages to the .po, untranslated."""
    template = Catalog(project="socklab", charset="utf-8")
    for message, where in sorted(extract().items(), key=lambda item: catalog_key(item[0])):
        locations = [(w.rsplit(":", 1)[0], int(w.rsplit(":", 1)[1]) if w.rsplit(":", 1)[1].isdigit() else None)
                     for w in where]
        flags = ["python-brace-format"] if re.search(r"\{\w*[^}]*\}", catalog_key(message)) else []
        template.add(message, locations=locations, flags=flags)
    with POT.open("wb") as f:
        write_po(f, template, omit_header=False, width=100, no_location=False)
    catalog = read_catalog() if PO.exists() else Catalog(locale="zh_CN", project="socklab")
    catalog.update(template, no_fuzzy_matching=True)
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as f:
        write_po(f, catalog, width=100, include_previous=False)
    untranslated = [m.id for m in catalog if m.id and not m.string]
    print(f"{len(template)} messages; {len(untranslated)} untranslated in {PO.relative_to(ROOT)}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        update()
    else:
        print(__doc__)
