"""Every exercise's checks: one module per part of the chapter, one class per exercise.

``TASKS`` maps each exercise's folder name (``01-tcp-server`` ...) to its task, in the
chapter's order; a module added here is found without being listed.
"""

from __future__ import annotations

import importlib
import pkgutil

from socklab.check.framework import Task


def _collect() -> dict[str, Task]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Task) and value.name and value.__module__ == module.__name__:
                found[value.name] = value()
    return dict(sorted(found.items()))


TASKS = _collect()
