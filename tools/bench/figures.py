"""Figures: what the bench measured, run by run, beside its peer -- and what failed.

A :class:`Figure` is one measured quantity: socklab's value in every run and, where it has
a peer, the peer's value in the same run (so each ratio socklab/peer is taken within one
pass).  :class:`Figures` holds all of them and owns the one way a measurement is tried:
:meth:`Figures.measure` runs it and, if it fails, records why on every figure it was for
(the table then says FAILED, the JSON says why) and returns ``None`` -- the bench goes on.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable
from typing import TypeVar

from tools.measure import MeasureError, Progress, attempt

T = TypeVar("T")


def stats(values: list) -> dict | None:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "runs": values}


@dataclasses.dataclass
class Figure:
    """One measured quantity: socklab's value in every run, and its peer's in the same run."""

    id: str
    section: str
    what: str
    unit: str
    better: str                    # "higher" or "lower"
    peer: str | None = None
    runs: list = dataclasses.field(default_factory=list)
    peer_runs: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)

    def add(self, value, peer_value=None) -> None:
        self.runs.append(value)
        if self.peer:
            self.peer_runs.append(peer_value)

    def ratios(self) -> list:
        return [a / b if a is not None and b else None for a, b in zip(self.runs, self.peer_runs)]

    def complete(self) -> bool:
        ok = stats(self.runs) is not None
        return ok and (not self.peer or stats(self.ratios()) is not None)

    def as_json(self) -> dict:
        return {"id": self.id, "section": self.section, "what": self.what, "unit": self.unit,
                "better": self.better, "socklab": stats(self.runs),
                "peer": ({"name": self.peer, **(stats(self.peer_runs) or {"runs": self.peer_runs})}
                         if self.peer else None),
                "ratio": stats(self.ratios()) if self.peer else None,
                "errors": self.errors}


def upstream(version: str) -> str:
    """Debian's '3.0.3-13+b2' -> '3.0.3', '1:2.3.19.1+dfsg1-2.1' -> '2.3.19.1' (the JSON keeps the whole version)."""
    return version.split(":")[-1].split("-")[0].split("+")[0]


def fmt(v) -> str:
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def cell(values: list, unit: str = "") -> str:
    s = stats(values)
    if s is None:
        return "FAILED"
    unit = f" {unit}" if unit else ""
    if len([v for v in values if v is not None]) == 1:
        return f"{fmt(s['median'])}{unit}"
    return f"{fmt(s['median'])}{unit} ({fmt(s['min'])}-{fmt(s['max'])})"


class Figures:
    """Every figure of one bench, by id, in the order they were first named."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.by_id: dict[str, Figure] = {}

    def __getitem__(self, fid: str) -> Figure:
        return self.by_id[fid]

    def __iter__(self):
        return iter(self.by_id.values())

    def fig(self, id: str, section: str, what: str, unit: str, better: str, peer: str | None = None) -> Figure:
        """The figure *id*, made on first use."""
        if id not in self.by_id:
            self.by_id[id] = Figure(id, section, what, unit, better, peer)
        return self.by_id[id]

    def failed(self, figures: list[Figure], run: int, why: str) -> None:
        """Record on each of *figures* that run *run* failed, and why."""
        for f in figures:
            f.errors.append(f"run {run + 1}: {why}")
        self.progress(f"  FAILED: {why.splitlines()[0][:200]}")

    def measure(self, figures: list[Figure], run: int, measure: Callable[[], T], where: str = "",
                errors: tuple[type[BaseException], ...] = (MeasureError,)) -> T | None:
        """``measure()``, or ``None`` when it raises one of *errors* -- then the failure is
        recorded on *figures* (prefixed with *where*, e.g. the host)."""
        prefix = f"{where}: " if where else ""
        return attempt(measure, lambda why: self.failed(figures, run, prefix + why), errors)
