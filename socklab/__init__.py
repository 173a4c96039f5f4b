"""socklab: a containerized lab for a Python network-programming chapter.

The servers live in :mod:`socklab.services` (``services/`` in the source tree), one module
or package per lab host; the clients live in :mod:`socklab.clients` (``clients/``), one
module per command. This package holds the few pieces they share.
"""

__version__ = "0.1.0"
