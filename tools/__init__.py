"""The lab's tools, run from the checkout's top folder.

* ``tools.lab`` -- ``make lab`` and friends (``python3 -m tools.lab up``);
* ``tools.classroom`` -- ``make class`` and ``class-*`` (``python3 -m tools.classroom up ROSTER``);
  ``tools.class_bench`` -- ``make class-bench``, run by ``tools.classroom bench``;
* ``tools.k8s`` -- ``make k8s`` (``python3 -m tools.k8s ROSTER``);
* ``tools.install`` -- what a fresh machine lacks (``python3 -m tools.install test``), standard
  library only and importing no other tool, so it runs before anything else is installed;
* ``tools.impair``, ``tools.capture`` -- ``make impair``/``heal``, ``make capture``/``ladder``,
  through ``tools.lab``;
* ``tools.ports`` -- free port blocks for throw-away labs: tests, bench, chaos, class-bench;
* ``tools.bench`` -- ``make bench`` (``python3 -m tools.bench``), one module per section;
* ``tools.chaos`` -- ``make chaos`` (``python3 -m tools.chaos``);
* ``tools.measure`` -- what the bench and the chaos campaign share: running a command,
  progress lines, and :func:`~tools.measure.attempt`, which owns "measure this, and if it
  fails, record why and go on";
* ``tools/bench_load.py``, ``tools/chaos_load.py`` -- the load, run inside containers as
  plain scripts (the standard library only, no import of this package).

One way to import them: tools import each other as ``tools.<name>`` (``from tools import
lab``), at the top of the module, or inside a function where the import would otherwise be
circular (``tools.lab`` imports ``tools.capture`` only when it captures); tests do the same.
Never by a file's path (``importlib.util.spec_from_file_location``) and never by putting
``tools/`` on ``sys.path``: each tool exists once in ``sys.modules``, so ``except
lab.LabError`` catches every LabError.

One way to run them: ``python3 -m tools.<name>`` from the checkout's top folder, as the
Makefile does.  ``python3 tools/lab.py ...`` (as the README shows), ``tools/classroom.py``,
``tools/k8s.py`` and ``tools/capture.py`` also run by their path, from anywhere: a guard at
the top of each puts the checkout on ``sys.path`` in place of ``tools/`` and hands over to
``tools.<name>.main``, so the copy run as ``__main__`` never becomes a second copy of the
module.  ``tools/install.py`` imports no other tool: it runs either way as it is.
"""
