"""``lab-check [TASK ...]``: check the student's exercise programs across the lab network.

On the client host (``make shell``)::

    lab-check                 # every exercise in ~/workspace/exercises
    lab-check 01              # one: a prefix of its folder name is enough
    lab-check 01-tcp-server --lang zh

On the host, ``make check`` and ``make check TASK=01`` run the same command in the client.
Exit status 0 when every check passed, 1 when one failed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys

from socklab.i18n import _, set_language
from socklab.check import report
from socklab.check.framework import WORKSPACE, Context
from socklab.check.tasks import TASKS


def select(names: list[str]) -> list:
    if not names:
        return list(TASKS.values())
    chosen = []
    for name in names:
        matches = [t for key, t in TASKS.items() if key == name or key.startswith(name)]
        if len(matches) != 1:
            known = ", ".join(TASKS)
            if not matches:
                raise ValueError(_("no exercise called {name}; there are: {known}").format(name=name, known=known))
            raise ValueError(_("{name} could be {which}; say which").format(
                name=name, which=", ".join(t.name for t in matches)))
        chosen += [t for t in matches if t not in chosen]
    return chosen


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="lab-check", description=_("Check your exercise programs across the lab "
                                                                 "network (workspace/exercises)."))
    p.add_argument("tasks", nargs="*", metavar="TASK", help=_("exercises to check (a prefix such as 01 is "
                                                               "enough); default: all"))
    p.add_argument("--lang", choices=["zh", "en"], help=_("language of the report (default: from the locale)"))
    p.add_argument("--json", action="store_true", help=_("print the results as JSON instead of the report"))
    p.add_argument("--list", action="store_true", help=_("list the exercises and stop"))
    args = p.parse_args(argv)
    set_language(args.lang)
    # what lab-check prints is the student's report: the checks' own servers (the FTP
    # exercises' recording server is pyftpdlib's) add nothing to it
    quiet = logging.getLogger("pyftpdlib")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    if args.list:
        for task in TASKS.values():
            print(f"{task.name:<18} {task.section:<7} {_(task.title)}")
        return 0
    try:
        tasks = select(args.tasks)
    except ValueError as exc:
        print(f"lab-check: {exc}", file=sys.stderr)
        return 2
    everything = []
    color = sys.stdout.isatty() and not args.json
    for task in tasks:
        ctx = Context(task)
        try:
            results = task.run(ctx)
        finally:
            ctx.close()
        everything += results
        if not args.json:
            heading = f"{task.name}  ({_('section')} {task.section}, {ctx.program.relative_to(WORKSPACE.parent)})"
            print(report.text(heading, results, color=color), flush=True)
            print(flush=True)
    try:
        saved = report.save(WORKSPACE / ".check", everything)
    except OSError as exc:
        saved = None
        print(_("lab-check: could not save the results: {error}").format(error=exc), file=sys.stderr)
    if args.json:
        print(report.as_json(everything))
    else:
        print(report.summary(everything))
        if saved:
            print(_("results saved in {path}").format(path=saved.relative_to(WORKSPACE.parent)))
    return 0 if all(r.passed for r in everything) else 1


if __name__ == "__main__":
    raise SystemExit(main())
