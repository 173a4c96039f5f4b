"""Messages in the student's language: English by default, Chinese when the locale says so.

Every message a student reads is written in English in the code, wrapped in :func:`_`, and
translated in a gettext catalog (``socklab/locale/zh_CN/LC_MESSAGES/socklab.po``, with the
template ``socklab/locale/socklab.pot``).  Protocol output (server replies, ``--trace``
lines, data) is never translated.  The language is chosen, first match wins, by

* :func:`set_language` (``lab-check --lang zh``),
* ``SOCKLAB_LANG`` (``zh`` or ``en``),
* the usual locale variables ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` (``zh_CN.UTF-8`` -> Chinese).

A message with no translation is shown in English, never dropped.

Where the compiled catalog (``socklab.mo``) comes from -- no ``.mo`` is ever committed:

* **In the lab image** ``images/lab/Dockerfile`` compiles the ``.po`` with GNU ``msgfmt``
  (Debian's ``gettext`` package, in ``images/base/packages.txt``) into
  ``socklab/locale/zh_CN/LC_MESSAGES/socklab.mo`` before socklab is installed, so every
  client command in the lab finds it beside this module.
* **On the host** ``tools/lab.py`` (standard library only: the lab map, ``make help``) puts a
  compiled catalog in ``.lab/locale/``: it runs the host's ``msgfmt`` when there is one, and
  otherwise copies the ``socklab.mo`` out of the built lab image (``docker run --rm IMAGE``),
  once per image.  This module looks there too (:data:`CATALOG_DIRS`).
* **Tests** compile the ``.po`` with Babel (the ``test`` extra) into a temporary folder and
  name it with ``SOCKLAB_LOCALE_DIR`` (then only that folder is searched).

Keeping the catalog complete: ``python tests/unit/test_i18n.py --update`` (in ``.venv``)
extracts every ``_()``/``ngettext`` message into the template and adds the new ones to the
``.po`` with an empty translation; ``tests/unit/test_i18n.py`` fails while any is untranslated.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

DOMAIN = "socklab"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# tools/lab.py's compiled copy for the host (a source checkout only)
HOST_LOCALE_DIR = Path(__file__).resolve().parent.parent / ".lab" / "locale"

_translation: gettext.NullTranslations | None = None
_language: str | None = None


def language_from_environment(environ=os.environ) -> str:
    """``zh`` or ``en``, from SOCKLAB_LANG, then LC_ALL, LC_MESSAGES, LANG."""
    for var in ("SOCKLAB_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(var, "").strip().lower()
        if value:
            return "zh" if value.startswith("zh") else "en"
    return "en"


def catalog_dirs(environ=os.environ) -> list[Path]:
    """Where a compiled ``zh_CN/LC_MESSAGES/socklab.mo`` is looked for, first found wins."""
    if environ.get("SOCKLAB_LOCALE_DIR"):           # named: that folder only (tests)
        return [Path(environ["SOCKLAB_LOCALE_DIR"])]
    return [LOCALE_DIR, HOST_LOCALE_DIR]


def _chinese() -> gettext.NullTranslations:
    for folder in catalog_dirs():
        found = gettext.find(DOMAIN, str(folder), languages=["zh_CN"])
        if found:
            with open(found, "rb") as f:
                return gettext.GNUTranslations(f)
    return gettext.NullTranslations()       # no compiled catalog: English, never an error


def set_language(lang: str | None) -> None:
    """Use *lang* (``zh`` or ``en``; None: from the environment) from now on."""
    global _translation, _language
    _language = lang if lang in ("zh", "en") else language_from_environment()
    _translation = _chinese() if _language == "zh" else gettext.NullTranslations()


def language() -> str:
    """The language in use, ``zh`` or ``en``."""
    if _language is None:
        set_language(None)
    return _language


def _(message: str) -> str:
    """The translation of *message* in the current language."""
    if _translation is None:
        set_language(None)
    return _translation.gettext(message)


def N_(message: str) -> str:
    """Mark *message* for translation without translating it yet (it is translated where shown)."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The translation of *singular*/*plural* for the number *n*."""
    if _translation is None:
        set_language(None)
    return _translation.ngettext(singular, plural, n)
