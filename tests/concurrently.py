"""Run one function in many threads at once and collect what went wrong in any of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable


def failures(target: Callable[..., object], args_list: Iterable[tuple], timeout: float) -> list[str]:
    """Call ``target(*args)`` for every *args* of *args_list*, each in its own thread, all at
    once; wait up to *timeout* seconds in all.  Return what failed: the repr of each exception
    a call raised, and a line for each call still running at the end (an empty list: all went
    well).  Tests assert ``failures(...) == []``, so the assertion shows what happened."""
    calls = list(args_list)
    errors: list[str] = []

    def run(args: tuple) -> None:
        try:
            target(*args)
        except Exception as exc:        # noqa: BLE001 - collected and reported to the test
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(args,), daemon=True) for args in calls]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    errors += [f"{target.__name__}{args} still running after {timeout:g} s"
               for t, args in zip(threads, calls) if t.is_alive()]
    return errors
