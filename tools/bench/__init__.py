"""``make bench``: how fast the lab comes up, how much memory it takes and how its servers
hold up under load -- side by side with real peers, measured in one run on this machine.

    python3 -m tools.bench              # the whole bench (what `make bench` runs)
    python3 -m tools.bench --smoke      # every figure once, with tiny counts (a test runs this)
    python3 -m tools.bench --runs 5     # more runs per figure
    python3 -m tools.bench --sections smtp,footprint    # only these sections
    python3 -m tools.bench clean        # remove what an interrupted bench left behind

What is measured (each section only if its hosts are in compose.yaml), one module each:

* :mod:`~tools.bench.lifecycle` -- ``make lab`` from nothing (no images: the base is built
  offline from Debian's packages) and again with the images built, until every host is
  healthy; ``make down``; beside them the floor: starting and stopping one bare container.
* :mod:`~tools.bench.footprint` -- memory of every lab container (``docker stats``) at idle
  and at its peak under the load below; the total per lab; how many labs fit in this
  machine's memory; CPU at idle and stopped -> ready, with the healthchecks as configured
  and every 2 s.
* :mod:`~tools.bench.sockets` -- round trips per second and p50/p99 latency with 1 and 32
  clients, for tcp-server one client at a time and concurrent, ss-server and udp-server.
* :mod:`~tools.bench.ftp` -- 100 MB STOR and RETR, 300 clients logging in at once; against vsftpd.
* :mod:`~tools.bench.mail` -- messages accepted per second on port 25 with Postfix's
  ``smtp-source`` as the load, against Postfix's ``smtp-sink``; and delivered per second
  end to end (accepted until visible in IMAP), against Postfix -> LMTP -> Dovecot.
* :mod:`~tools.bench.news` -- POSTs and ARTICLE fetches per second with 1 and 16 readers;
  OVER of 1,000.

The rest is plumbing: :mod:`~tools.bench.testbed` (the private lab, load containers,
peers), :mod:`~tools.bench.figures` (each figure, and the one way a measurement is tried
and its failure recorded), :mod:`~tools.bench.docker_stats` (memory and CPU from the
engine), :mod:`~tools.bench.report` (JSON and table), :mod:`~tools.bench.settings`.

How, so that the figures mean something:

* Everything runs in a private lab (``LAB=bench-...``) with its own network, volumes and
  port block; cold ``make lab`` builds images under names of its own
  (``socklab/base:bench-cold``, ``socklab/lab:bench-cold``), so nobody's lab is touched.
  All of it is removed at the end, also after Ctrl-C.
* The peers (vsftpd, smtp-sink, Postfix with Dovecot) come from Debian's packages in
  ``socklab/peers:bookworm``, built like the base image (``images/peers/packages.txt``),
  and run on the same network.
* Load generators (tools/bench_load.py, and smtp-source) run in containers on the bench
  lab's network and talk to lab hosts by name -- never to any other address. Each is
  bounded in count and in time; times are taken inside the load container.
* Each figure is the median of ``--runs`` runs, with min and max. A run is one pass over
  every section, and in each pass socklab and its peer are measured back to back, so each
  ratio socklab/peer is computed pair by pair within one pass.

Output: progress on stderr, the table on stdout, and every figure with the machine, the
versions and the date in ``bench-results/bench-<date>.json`` (and ``latest.json``); the
README's "Bench" section explains how to read it.
"""
