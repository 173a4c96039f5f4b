"""The lab's tools, run from the checkout's top folder.

* ``tools/lab.py`` -- ``make lab`` and friends (run as a script: ``python3 tools/lab.py up``);
* ``tools.bench`` -- ``make bench`` (``python3 -m tools.bench``), one module per section;
* ``tools.chaos`` -- ``make chaos`` (``python3 -m tools.chaos``);
* ``tools.measure`` -- what the bench and the chaos campaign share: running a command,
  progress lines, and :func:`~tools.measure.attempt`, which owns "measure this, and if it
  fails, record why and go on";
* ``tools/bench_load.py``, ``tools/chaos_load.py`` -- the load, run inside containers as
  plain scripts (the standard library only, no import of this package).

Tools import each other as ``tools.<name>`` (``from tools import lab``), never by putting
``tools/`` on ``sys.path``.
"""
