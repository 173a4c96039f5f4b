"""The lab's news host: an NNTP server (RFC 3977) for the chapter's ``nntplib`` section.

Start reading at :mod:`~socklab.services.news.server` (what runs on host ``news``), then
:mod:`~socklab.services.news.protocol` (the conversation) and
:mod:`~socklab.services.news.spool` (how articles are kept safe on disk).
"""
