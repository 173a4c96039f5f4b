"""`make chaos` in miniature (python3 -m tools.chaos --smoke): fuzz, flood, kill -9 and a full disk,
with small counts, on a lab of its own -- and every promise of the full campaign checked.

Each assertion can fail: a traceback in any server's log, a server that restarted while
being fuzzed or flooded, an acknowledged upload, message or article that is not there
byte for byte after a kill, a full disk answered otherwise than the protocol says, a
well-behaved client not served within 1 s during a flood.  The campaign removes its lab,
containers and volumes afterwards; that is checked too.
"""

import json
import os
import subprocess
import sys

import pytest
from labharness import ROOT, docker_ids


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("chaos") / "smoke.json"
    before = {"containers": docker_ids("ps", "-aq"), "volumes": docker_ids("volume", "ls", "-q")}
    env = {**os.environ, "SOCKLAB_CHAOS_JSON": str(out)}
    run = subprocess.run([sys.executable, "-m", "tools.chaos", "--smoke"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    after = {"containers": docker_ids("ps", "-aq"), "volumes": docker_ids("volume", "ls", "-q")}
    doc = json.loads(out.read_text()) if out.exists() else None
    return run, doc, before, after


def test_the_campaign_passes(smoke):
    run, doc, _, _ = smoke
    assert doc is not None, run.stdout[-4000:] + run.stderr[-4000:]
    assert doc["failures"] == [], "\n".join(doc["failures"])
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert doc["smoke"] is True and doc["seed"]


def test_every_target_was_fuzzed_and_still_serves(smoke):
    _, doc, _, _ = smoke
    assert set(doc["fuzz"]) == {"tcp-server", "udp-server", "ss-server", "unix-server", "ftp", "ftp-tls",
                                "smtp-25", "smtp-587", "smtp-465", "nntp"}
    for target, f in doc["fuzz"].items():
        assert f["sessions"] == doc["settings"]["sessions"], target
        assert f["correct_session_after"]["ok"], (target, f["correct_session_after"])
        assert not f["restarted"] and f["restart_count"] == 0, target


def test_zero_tracebacks_zero_restarts_zero_lost(smoke):
    _, doc, _, _ = smoke
    for host, row in doc["summary"].items():
        assert row["tracebacks"] == 0, (host, row)
        assert row["crashes"] == 0 and row["restarts_unasked"] == 0, (host, row)
        assert row["lost"] == 0, (host, row)
    for key, scan in doc["logs"].items():
        assert scan["tracebacks"] == 0, (key, scan)


def test_kill_9_loses_nothing_acknowledged_and_the_hosts_come_back(smoke):
    _, doc, _, _ = smoke
    assert set(doc["kill"]) == {"ftp host", "mail host", "dovecot alone", "news host"}
    for name, k in doc["kill"].items():
        assert k["acknowledged"] > 0, (name, k)
        assert k["lost"] == [] and k["half_written"] == [], (name, k)
        assert k["restarts"] >= 1 and k["served_after_s"] is not None, (name, k)
    assert doc["kill"]["ftp host"]["journal_left"] == []


def test_a_full_disk_is_answered_by_the_protocol_and_storing_resumes(smoke):
    _, doc, _, _ = smoke
    expected = {"ftp": ("452", "552"), "smtp": ("452",), "nntp": ("436", "441")}
    for protocol, codes in expected.items():
        d = doc["disk"][protocol]
        assert d["stored_before_full"] > 0, (protocol, d)
        assert d["refusal"].startswith(codes), (protocol, d)
        assert d["damaged"] == [], (protocol, d)
        assert d["stored_after_freeing"] == 1, (protocol, d)


def test_floods_get_the_busy_reply_and_a_good_client_is_served_within_a_second(smoke):
    _, doc, _, _ = smoke
    for name in ("ftp", "smtp (mail:25)", "nntp (news)", "tcp-server --concurrent"):
        f = doc["flood"][name]
        assert f["busy_replies"] > 0, (name, f)
        assert f["probe"]["ok"] and f["probe"]["seconds"] + f["probe"]["waited"] <= 1.0, (name, f)
        assert f["recovered_after_s"] is not None, (name, f)


def test_nothing_is_left_behind(smoke):
    _, doc, before, after = smoke
    project = f"socklab-{doc['lab']}"
    assert not docker_ids("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}")
    assert not docker_ids("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={project}")
    assert not docker_ids("ps", "-aq", "--filter", "label=socklab.chaos=" + doc["id"])
    assert not docker_ids("volume", "ls", "-q", "--filter", "label=socklab.chaos=" + doc["id"])
    assert not (after["volumes"] - before["volumes"]) & {v for v in after["volumes"] if doc["id"] in v}
