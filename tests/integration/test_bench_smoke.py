"""`make bench` in miniature: every figure is produced, with tiny counts and one run.

Timings are not asserted -- they depend on the machine and on what else runs on it. What
is asserted is that the bench still works from end to end: every section whose hosts are
in compose.yaml gives every one of its figures a number (and its peer and ratio where it
has a peer), the JSON file says on what machine and with which versions, and the bench
leaves nothing behind.
"""

import json
import os
import subprocess
import sys

import pytest
from labharness import ROOT, docker_ids
from tools import lab as labtool

SECTION_HOSTS = {"sockets": {"tcp-server", "udp-server", "ss-server"}, "ftp": {"ftp"}, "smtp": {"mail"},
                 "news": {"news"}}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    before = {"containers": docker_ids("ps", "-aq"), "volumes": docker_ids("volume", "ls", "-q"),
              "networks": docker_ids("network", "ls", "-q")}
    env = {**os.environ, "SOCKLAB_BENCH_JSON": str(out)}
    run = subprocess.run([sys.executable, "-m", "tools.bench", "--smoke"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    after = {"containers": docker_ids("ps", "-aq"), "volumes": docker_ids("volume", "ls", "-q"),
             "networks": docker_ids("network", "ls", "-q")}
    doc = json.loads(out.read_text()) if out.exists() else None
    return run, doc, before, after


def test_bench_runs_and_writes_its_json(smoke):
    run, doc, _, _ = smoke
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert doc is not None and doc["smoke"] is True
    for key in ("cores", "memory_bytes", "os", "kernel", "docker", "storage_driver", "compose"):
        assert doc["machine"][key], key
    for package in ("python3", "python3-pyftpdlib", "python3-aiosmtpd", "vsftpd", "postfix"):
        assert doc["versions"][package], package
    assert doc["date"] and doc["settings"]["runs"] == 1


def test_every_figure_has_a_number(smoke):
    run, doc, _, _ = smoke
    assert doc is not None, run.stderr[-4000:]
    for f in doc["figures"]:
        assert f["errors"] == [], f
        assert isinstance(f["socklab"]["median"], (int, float)), f
        assert f["socklab"]["min"] <= f["socklab"]["median"] <= f["socklab"]["max"], f
        if f["peer"]:
            assert isinstance(f["peer"]["median"], (int, float)), f
            assert isinstance(f["ratio"]["median"], (int, float)), f


def test_every_section_of_the_lab_is_measured(smoke):
    run, doc, _, _ = smoke
    assert doc is not None, run.stderr[-4000:]
    hosts = set(labtool.services())
    ids = {f["id"] for f in doc["figures"]}
    sections = {f["section"] for f in doc["figures"]}
    assert {"lifecycle", "footprint"} <= sections
    for section, needs in SECTION_HOSTS.items():
        if needs <= hosts:
            assert section in sections, (section, doc["skipped"])
        else:
            assert any(s["section"] == section for s in doc["skipped"])
    # the figures the bench promises, by name
    expected = {"lifecycle.cold-up", "lifecycle.warm-up", "lifecycle.down",
                "footprint.idle.total", "footprint.load.total", "footprint.idle.fit", "footprint.load.fit"}
    expected |= {f"footprint.{when}.{host}" for host in hosts for when in ("idle", "load")}
    if "sockets" in sections:
        for key in ("tcp-seq", "tcp-conc", "ss", "udp"):
            for clients in (1, 32):
                expected |= {f"sockets.{key}.c{clients}.{k}" for k in ("rate", "p50", "p99")}
        expected |= {"sockets.udp.c1.loss", "sockets.udp.c32.loss"}
    if "ftp" in sections:
        expected |= {"ftp.stor", "ftp.retr", "ftp.logins.rate", "ftp.logins.done", "ftp.logins.p99"}
    if "smtp" in sections:
        expected |= {"smtp.accept.c1.1k", "smtp.accept.c16.1k", "smtp.accept.c1.100k", "smtp.accept.c16.100k",
                     "smtp.e2e"}
    if "news" in sections:
        expected |= {"news.post.c1", "news.post.c16", "news.over", "news.article.c1", "news.article.c16"}
    assert expected <= ids, sorted(expected - ids)


def test_the_table_shows_every_figure(smoke):
    run, doc, _, _ = smoke
    assert doc is not None, run.stderr[-4000:]
    for f in doc["figures"]:
        assert f["what"] in run.stdout
    assert "FAILED" not in run.stdout
    assert "bench [" in run.stderr           # progress while it runs


def test_the_bench_leaves_nothing_behind(smoke):
    _, _, before, after = smoke
    for kind in ("containers", "volumes", "networks"):
        left = after[kind] - before[kind]
        # another test session may have started something meanwhile: only bench leftovers count
        for ident in left:
            labels = subprocess.run(["docker", kind.rstrip("s") if kind != "containers" else "container",
                                     "inspect", "--format", "{{json .Labels}}", ident],
                                    capture_output=True, text=True).stdout
            assert "socklab.bench" not in labels and "socklab-bench" not in labels, (kind, ident, labels)
    cold = subprocess.run(["docker", "image", "inspect", "socklab/lab:bench-cold"], capture_output=True)
    assert cold.returncode != 0, "the cold lab image was left behind"
