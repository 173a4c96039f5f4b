"""``lab-check``: the lab checks the student's own programs, across the lab network.

The exercises are folders under ``workspace/exercises/`` (one program each, a README in
Chinese and English); the checks are in :mod:`socklab.check.tasks`, one module per part of
the chapter, built from :mod:`socklab.check.framework`.  A student's server runs on the
host ``student-server`` under :mod:`socklab.check.runner`; a student's client runs on the
client host.  :mod:`socklab.check.report` prints the report and keeps the results
(``workspace/.check/results.json`` and ``junit.xml``) for the teacher.
"""
