"""The pure helpers of the news exercises' checks (socklab/check/tasks/news.py)."""

from socklab.check.tasks.news import body_lines, decoded, header, in_order, shown


def test_shown_takes_a_plain_line_or_the_chapters_tuple():
    assert shown("35 Re: sorting a list\n", 35, "Re: sorting a list")
    assert shown("('35', 'Re: sorting a list')\n", 35, "Re: sorting a list")
    assert not shown("135 Re: sorting a list\n", 35, "Re: sorting a list")
    assert not shown("35 something else\n", 35, "Re: sorting a list")


def test_shown_accepts_encoded_or_decoded_subjects():
    raw = "=?utf-8?b?5L2g5aW9?= world"
    assert decoded(raw) == "你好 world"
    assert shown(f"7 {raw}", 7, raw)
    assert shown("7 你好 world", 7, raw)


def test_in_order_names_the_first_line_missing():
    out = "head\nline one\nx line two y\n"
    assert in_order(out, ["line one", "line two"]) is None
    assert in_order(out, ["line two", "line one"]) == "line one"
    assert in_order("b'\\xe4\\xbd\\xa0'\n", ["你"]) == "你"


def test_header_unfolds_and_keeps_raw_bytes():
    head = [b"From: a@b.c", b"Subject: =?utf-8?b?5L2g?=", b" =?utf-8?b?5aW9?=", "X: 中".encode()]
    assert header(head, "subject") == "=?utf-8?b?5L2g?= =?utf-8?b?5aW9?="
    assert decoded(header(head, "Subject")) == "你好"
    assert header(head, "X") == "中"
    assert header(head, "Newsgroups") is None


def test_body_lines_undoes_the_transfer_encoding_and_charset():
    head = [b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: base64"]
    assert body_lines(head, [b"5L2g5aW9CmFiYwo="]) == ["你好", "abc"]
    assert body_lines([b"From: a@b.c"], ["中文 text".encode(), b"", b"more"]) == ["中文 text", "more"]
