"""The chapter's news example: the last ten subjects of comp.lang.python, then one body."""

import sys

try:
    import nntplib                       # in the standard library up to Python 3.12
except ImportError:                      # 3.13+: pip install standard-nntplib
    sys.exit("nntplib is missing: on Python 3.13+ install the standard-nntplib package")

with nntplib.NNTP("news") as s:
    resp, count, first, last, name = s.group("comp.lang.python")
    print(f"{name}: {count} articles, {first}-{last}")
    resp, subjects = s.xhdr("subject", f"{first}-{last}")
    for number, subject in subjects[-10:]:
        print(number, nntplib.decode_header(subject))
    number = sys.argv[1] if len(sys.argv) > 1 else input("Which article do you want to read? ")
    resp, info = s.body(number)
    for line in info.lines:
        print(line.decode("utf-8", "replace"))
