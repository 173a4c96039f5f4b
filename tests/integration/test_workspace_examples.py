"""The example programs in workspace/examples run on the client host, as a student runs them."""

import re
import uuid

from labharness import ROOT


def example(lab, name: str, *args: str):
    # The tests mount a fresh folder as the workspace: put the example there first.
    lab.exec("client", ["mkdir", "-p", "examples"])
    source = (ROOT / "workspace" / "examples" / name).read_text()
    put = lab.exec("client", ["sh", "-c", f"cat > examples/{name}"], input=source)
    assert put.ok, put
    return lab.exec("client", ["python3", f"examples/{name}", *args])


def test_tcp_example(lab):
    result = example(lab, "tcp_timestamp_client.py", "one", "two")
    assert result.ok, result
    assert re.search(r"^\[.*\] one$", result.stdout, re.M) and re.search(r"^\[.*\] two$", result.stdout, re.M)


def test_udp_example(lab):
    result = example(lab, "udp_timestamp_client.py", "datagram")
    assert result.ok, result
    assert result.stdout.strip().endswith("] datagram")


def test_ftp_example(lab):
    result = example(lab, "ftp_listing.py")
    assert result.ok, result
    assert "now in /" in result.stdout
    assert "README.txt" in result.stdout
    size = (ROOT / "services" / "ftp" / "seed" / "pub" / "README.txt").stat().st_size
    assert f"downloaded {size} bytes" in result.stdout


def test_news_example(lab):
    result = example(lab, "last_ten_subjects.py", "1")
    assert result.ok, result
    assert result.stdout.startswith("comp.lang.python: ")
    header, *rest = result.stdout.splitlines()
    numbered = [line for line in rest[:10] if re.match(r"^\d+ ", line)]
    assert len(numbered) == 10, result


def test_mail_example(lab):
    subject = f"example {uuid.uuid4().hex[:8]}"
    result = example(lab, "send_and_read_mail.py", subject)
    assert result.ok, result
    assert f"sent: {subject}" in result.stdout
    assert re.search(r"POP3: bob has [1-9]\d* messages", result.stdout), result
    assert re.search(r"IMAP: found message numbers \d+", result.stdout), result
