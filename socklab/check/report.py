"""What ``lab-check`` tells the student, and what it keeps for the teacher.

* :func:`text` -- the report on the terminal: a line per check, PASS or FAIL, and for a
  failure what was expected, what was seen, a hint naming the chapter's section and what the
  program printed;
* :func:`save` -- ``workspace/.check/results.json`` (a row per check: task, check, pass,
  message, time; the latest run of each task is kept, so the file always holds the student's
  latest result for every task checked) and ``workspace/.check/junit.xml`` beside it, for
  a teacher's tools.
"""

from __future__ import annotations

import json
import os
import socket
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path

from socklab.i18n import _
from socklab.check.framework import Result


def text(task_title: str, results: list[Result], color: bool = False) -> str:
    lines = [task_title]
    for r in results:
        mark = _("PASS") if r.passed else _("FAIL")
        if color:
            mark = ("\033[32m" if r.passed else "\033[31m") + mark + "\033[0m"
        lines.append(f"  {mark}  {r.title}")
        if not r.passed:
            lines.append(f"        {_('expected:')} {r.expected}")
            lines.append(f"        {_('seen:')}     {r.seen}")
            if r.hint:
                lines.append(f"        {_('hint:')}     {r.hint}")
            if r.output.strip():
                lines.append(f"        {_('your program printed:')}")
                lines += [f"          | {line}" for line in r.output.strip().splitlines()[-15:]]
    return "\n".join(lines)


def summary(results: list[Result]) -> str:
    passed = sum(r.passed for r in results)
    return _("{passed} of {total} checks passed").format(passed=passed, total=len(results))


def rows(results: list[Result]) -> list[dict]:
    return [{"task": r.task, "check": r.check, "title": r.title, "pass": r.passed, "message": r.message,
             "hint": r.hint, "seconds": r.seconds, "time": r.time} for r in results]


def save(folder: Path, results: list[Result]) -> Path:
    """Merge this run into folder/results.json (by task) and write folder/junit.xml."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.json"
    try:
        old = json.loads(path.read_text())["results"]
    except (OSError, ValueError, KeyError, TypeError):
        old = []
    checked = {r.task for r in results}
    merged = [row for row in old if row.get("task") not in checked] + rows(results)
    merged.sort(key=lambda row: (row["task"], ))
    doc = {"student": os.environ.get("SOCKLAB_STUDENT") or os.environ.get("USER") or "student",
           "host": socket.gethostname(), "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "results": merged}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    os.replace(tmp, path)
    junit(folder / "junit.xml", merged)
    return path


def junit(path: Path, merged: list[dict]) -> None:
    suites = ET.Element("testsuites", name="socklab exercises")
    by_task: dict[str, list[dict]] = {}
    for row in merged:
        by_task.setdefault(row["task"], []).append(row)
    for task, task_rows in by_task.items():
        suite = ET.SubElement(suites, "testsuite", name=task, tests=str(len(task_rows)),
                              failures=str(sum(not r["pass"] for r in task_rows)),
                              time=str(round(sum(r.get("seconds", 0) for r in task_rows), 3)))
        for row in task_rows:
            case = ET.SubElement(suite, "testcase", classname=task, name=row["check"],
                                 time=str(row.get("seconds", 0)))
            if not row["pass"]:
                failure = ET.SubElement(case, "failure", message=row["message"])
                failure.text = "\n".join(filter(None, [row.get("title", ""), row["message"], row.get("hint", "")]))
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def as_json(results: list[Result]) -> str:
    return json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=1)
