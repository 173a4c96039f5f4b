"""tools/impair.py without a lab: reading LOSS/RATE/DELAY, the commands and scripts it builds,
reading back what a host's namespace says, and `make impair`'s answers to bad input."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tools import impair


@pytest.fixture(autouse=True)
def english():
    from socklab import i18n
    i18n.set_language("en")
    yield
    i18n.set_language(None)


# --------------------------------------------------------------------------- values

@pytest.mark.parametrize("text, percent", [("30%", 30.0), ("30", 30.0), ("0.5%", 0.5), (" 100% ", 100.0),
                                           ("0%", 0.0), ("12.345%", 12.35)])
def test_loss_is_a_percentage(text, percent):
    assert impair.parse_loss(text) == percent


@pytest.mark.parametrize("text", ["150%", "100.1", "-5%", "thirty", "30%%", "0x10", ""])
def test_a_bad_loss_is_one_line(text):
    with pytest.raises(impair.ImpairError) as exc:
        impair.parse_loss(text)
    message = str(exc.value)
    assert message.startswith(f"LOSS={text}: ") and "\n" not in message
    assert "0 to 100" in message


@pytest.mark.parametrize("text, bits", [("1mbit", 10**6), ("1Mbit", 10**6), ("512kbit", 512_000),
                                        ("1.5mbit", 1_500_000), ("100kbps", 800_000), ("2gbit", 2 * 10**9),
                                        ("8kbit", 8000), ("64000bit", 64000), ("1mbps", 8 * 10**6)])
def test_rate_takes_tc_units(text, bits):
    assert impair.parse_rate(text) == bits


@pytest.mark.parametrize("text", ["fast", "1000", "1 megabit", "1kbit", "11gbit", "mbit", "-1mbit", ""])
def test_a_bad_rate_is_one_line(text):
    with pytest.raises(impair.ImpairError) as exc:
        impair.parse_rate(text)
    assert str(exc.value).startswith(f"RATE={text}: ") and "\n" not in str(exc.value)


@pytest.mark.parametrize("bits, text", [(10**6, "1mbit"), (1_500_000, "1.5mbit"), (512_000, "512kbit"),
                                        (8000, "8kbit"), (10**9, "1gbit"), (999, "999bit")])
def test_rates_are_shown_as_tc_writes_them(bits, text):
    assert impair.format_rate(bits) == text
    if bits >= impair.MIN_RATE:
        assert impair.parse_rate(text) == bits


@pytest.mark.parametrize("text, ms", [("200ms", 200.0), ("1s", 1000.0), ("1.5s", 1500.0), ("200", 200.0),
                                      ("0ms", 0.0), ("60s", 60000.0)])
def test_delay_is_a_time(text, ms):
    assert impair.parse_time("DELAY", text) == ms


@pytest.mark.parametrize("text", ["1h", "61s", "soon", "-1ms", "200 m"])
def test_a_bad_delay_is_one_line(text):
    with pytest.raises(impair.ImpairError) as exc:
        impair.parse_time("DELAY", text)
    assert str(exc.value).startswith(f"DELAY={text}: ")


def test_settings_make_one_impairment():
    imp = impair.from_settings({"LOSS": "30%", "RATE": "1mbit", "DELAY": "", "JITTER": ""})
    assert imp == impair.Impairment(loss=30.0, rate=10**6)
    assert imp and imp.describe() == "loss 30%, rate 1mbit"
    assert not impair.from_settings({})
    assert impair.from_settings({"DELAY": "200ms", "JITTER": "50ms"}).describe() == "delay 200ms ± 50ms"
    with pytest.raises(impair.ImpairError, match="give DELAY= too"):
        impair.from_settings({"JITTER": "50ms"})
    with pytest.raises(impair.ImpairError, match="more than DELAY"):
        impair.from_settings({"DELAY": "10ms", "JITTER": "50ms"})


# --------------------------------------------------------------------------- commands

def test_loss_is_one_nft_table_for_both_directions_but_not_loopback():
    rules = impair.nft_ruleset(30)
    assert rules.startswith("table inet socklab_impair {")
    assert rules.count("numgen random mod 10000 < 3000 counter drop") == 2
    assert 'hook input' in rules and 'iifname != "lo"' in rules
    assert 'hook output' in rules and 'oifname != "lo"' in rules
    assert "numgen random mod 10000 < 5 " in impair.nft_ruleset(0.05)


def test_rate_is_a_token_bucket_each_way():
    cmd = impair.tbf("eth0", 10**6)
    assert cmd[:8] == ["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:"]
    assert cmd[cmd.index("rate") + 1] == "1000000bit"
    assert int(cmd[cmd.index("burst") + 1]) >= 4096          # more than a full-size frame
    assert int(impair.tbf("eth0", 10**9)[impair.tbf("eth0", 10**9).index("burst") + 1]) == 10**9 // 800

    script = impair.apply_script(impair.Impairment(rate=10**6))
    assert "step tc qdisc add dev eth0 root handle 1: tbf rate 1000000bit" in script
    assert "step tc qdisc add dev socklab-ifb root handle 1: tbf rate 1000000bit" in script
    assert "action mirred egress redirect dev socklab-ifb" in script
    assert "police rate 1000000bit" in script                  # the fallback without ifb
    assert "nft -f" not in script                              # no loss asked, no loss table


def test_loss_alone_needs_no_tc():
    script = impair.apply_script(impair.Impairment(loss=30))
    assert "step nft -f - <<'SOCKLAB_NFT'" in script
    assert "tc qdisc add" not in script and "netem" not in script


def test_delay_checks_for_netem_before_touching_anything():
    script = impair.apply_script(impair.Impairment(delay=200, jitter=50))
    lines = script.splitlines()
    probe = lines.index(f"  [ $probe -eq 0 ] || exit {impair.NO_NETEM}")
    assert probe < lines.index("heal")              # what was in effect stays when netem is missing
    assert "step tc qdisc add dev eth0 root handle 1: netem delay 200ms 50ms" in lines
    both = impair.apply_script(impair.Impairment(rate=10**6, delay=100))
    assert "step tc qdisc add dev eth0 parent 1:1 handle 10: netem delay 100ms" in both
    assert "police" not in both                     # delay needs ifb: no policer fallback


@pytest.mark.skipif(not shutil.which("sh"), reason="no sh")
@pytest.mark.parametrize("imp", [impair.Impairment(loss=30), impair.Impairment(rate=10**6),
                                 impair.Impairment(loss=1, rate=10**6, delay=5, jitter=1)])
def test_the_scripts_are_valid_shell(imp):
    for script in (impair.apply_script(imp), impair.heal_script(), impair.readback_script()):
        check = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr + script


def test_heal_removes_everything_impair_adds():
    script = impair.heal_script()
    for part in ("nft delete table inet socklab_impair", "tc qdisc del dev eth0 root",
                 "tc qdisc del dev eth0 ingress", "ip link del socklab-ifb"):
        assert part in script


def test_the_helper_has_net_admin_only_in_that_one_namespace():
    argv = impair.helper_argv("abc123", "socklab/lab:x", "true")
    assert argv[:3] == ["docker", "run", "--rm"]
    assert argv[argv.index("--network") + 1] == "container:abc123"
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--cap-add"] == ["NET_ADMIN"]
    assert "--privileged" not in argv and "--pid" not in argv
    assert argv[argv.index("-u") + 1] == "0"
    assert argv[-5:] == ["--entrypoint", "sh", "socklab/lab:x", "-c", "true"]     # the lab image, sh -c


# --------------------------------------------------------------------------- reading back

NFT = {"nftables": [
    {"metainfo": {"version": "1.0.6"}},
    {"table": {"family": "inet", "name": "socklab_impair", "handle": 4}},
    {"chain": {"family": "inet", "table": "socklab_impair", "name": "input", "hook": "input"}},
    {"rule": {"family": "inet", "table": "socklab_impair", "chain": "input", "expr": [
        {"match": {"op": "!=", "left": {"meta": {"key": "iifname"}}, "right": "lo"}},
        {"match": {"op": "<", "left": {"numgen": {"mode": "random", "mod": 10000, "offset": 0}}, "right": 3000}},
        {"counter": {"packets": 306, "bytes": 12000}}, {"drop": None}]}},
    {"rule": {"family": "inet", "table": "socklab_impair", "chain": "output", "expr": [
        {"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": "lo"}},
        {"match": {"op": "<", "left": {"numgen": {"mode": "random", "mod": 10000, "offset": 0}}, "right": 3000}},
        {"counter": {"packets": 208, "bytes": 9000}}, {"drop": None}]}}]}
EGRESS = [{"kind": "tbf", "handle": "1:", "root": True, "options": {"rate": 125000, "burst": 4096, "lat": 500000}},
          {"kind": "ingress", "handle": "ffff:", "parent": "ffff:fff1", "options": {}}]
IFB = [{"kind": "tbf", "handle": "1:", "root": True, "options": {"rate": 125000, "burst": 4096, "lat": 500000}}]
INGRESS = [{"protocol": "all", "kind": "u32"},
           {"protocol": "all", "kind": "u32", "options": {"fh": "800::800", "actions": [
               {"order": 1, "kind": "mirred", "mirred_action": "redirect", "to_dev": "socklab-ifb"}]}}]


def readback(nft=None, egress=None, ifb=None, ingress=None) -> str:
    """What the helper prints (as captured from a real host, see tests/integration/test_impair.py)."""
    def dump(value):
        return json.dumps(value) + "\n" if value is not None else ""
    return (f"{impair.READBACK_MARK}nft\n{dump(nft)}{impair.READBACK_MARK}egress\n{dump(egress)}"
            f"{impair.READBACK_MARK}ifb\n{dump(ifb)}{impair.READBACK_MARK}ingress\n{dump(ingress)}")


def test_readback_finds_loss_rate_and_the_counters():
    status = impair.parse_readback(readback(NFT, EGRESS, IFB, INGRESS))
    assert status.impairment == impair.Impairment(loss=30.0, rate=10**6)
    assert (status.dropped_in, status.dropped_out) == (306, 208)
    assert status.incoming_shaped
    assert impair.map_line(status) == "impaired: loss 30%, rate 1mbit"


def test_readback_of_a_healed_host_is_nothing():
    status = impair.parse_readback(readback(None, [{"kind": "noqueue", "handle": "0:", "root": True}], None, []))
    assert not status.impairment
    assert impair.parse_readback("") == impair.Status(impair.Impairment())


def test_readback_says_when_only_outgoing_packets_are_shaped():
    status = impair.parse_readback(readback(None, EGRESS[:1], None, []))
    assert status.impairment.rate == 10**6 and not status.incoming_shaped
    assert status.describe() == "rate 1mbit (outgoing packets only)"


def test_readback_of_netem():
    netem = [{"kind": "netem", "handle": "1:", "root": True,
              "options": {"limit": 1000, "delay": {"delay": 0.2, "jitter": 0.05, "correlation": 0}}}]
    status = impair.parse_readback(readback(None, netem, netem, INGRESS))
    assert status.impairment == impair.Impairment(delay=200.0, jitter=50.0)
    assert status.incoming_shaped


# --------------------------------------------------------------------------- which hosts, make impair

def container(host: str, cid: str, started: str = "2026-01-01T00:00:00Z", running: bool = True) -> dict:
    return {"Id": cid, "Name": f"/lab_{host}_1", "State": {"Running": running, "StartedAt": started},
            "Config": {"Labels": {"com.docker.compose.service": host}}}


def test_the_state_file_only_names_candidates(tmp_path, monkeypatch):
    read = []

    def fake_read(cid, image):
        read.append(cid)
        return impair.Status(impair.Impairment(loss=30.0)) if cid == "u1" else impair.Status(impair.Impairment())

    monkeypatch.setattr(impair, "read", fake_read)
    running = [container("udp-server", "u1"), container("ftp", "f2", started="2026-01-02T00:00:00Z"),
               container("tcp-server", "t1")]
    assert impair.in_effect("x", running, "img", tmp_path) == {}
    assert read == []                                   # no state file: no helper at all
    impair.remember("x", "udp-server", running[0], impair.Impairment(loss=30), tmp_path)
    impair.remember("x", "ftp", container("ftp", "f2"), impair.Impairment(rate=10**6), tmp_path)  # since restarted
    impair.remember("x", "tcp-server", running[2], impair.Impairment(loss=5), tmp_path)           # healed by hand
    found = impair.in_effect("x", running, "img", tmp_path)
    assert list(found) == ["udp-server"] and found["udp-server"].describe() == "loss 30%"
    assert sorted(read) == ["t1", "u1"]                 # the restarted ftp needed no helper
    assert list(impair.load_state("x", tmp_path)) == ["udp-server"]
    impair.forget("x", tmp_path)
    assert not impair.state_file("x", tmp_path).exists()


def test_make_lab_heals_the_hosts_it_kept(tmp_path, monkeypatch):
    healed = []
    monkeypatch.setattr(impair, "heal", lambda cid, image: healed.append(cid))
    before = [container("udp-server", "u1"), container("ftp", "f1"), container("news", "n1", running=False)]
    after = [container("udp-server", "u1"), container("ftp", "f2"), container("news", "n1", started="later")]
    impair.remember("x", "udp-server", before[0], impair.Impairment(loss=30), tmp_path)
    impair.heal_kept("x", before, after, "img", tmp_path)
    assert healed == ["u1"]
    assert not impair.state_file("x", tmp_path).exists()


HOSTS = ["client", "ftp", "tcp-server", "udp-server"]


def run_main(capsys, verb, args, running=(), environ=None, tmp_path=None):
    code = impair.main(verb, list(args), lab="x", hosts=HOSTS, running=list(running), image="img",
                       state_dir=tmp_path, environ=environ or {})
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("args, first_words", [
    (["HOST=udp-server", "LOSS=150%"], "socklab: LOSS=150%: "),
    (["HOST=udp-server", "RATE=fast"], "socklab: RATE=fast: "),
    (["HOST=nosuch", "LOSS=30%"], "socklab: HOST=nosuch: no such host"),
    (["LOSS=30%"], "socklab: say which host"),
    (["HOST=udp-server", "DELAY=1h"], "socklab: DELAY=1h: "),
    (["HOST=udp-server", "SPEED=1mbit"], "socklab: SPEED=1mbit: say HOST="),
    (["HOST=udp-server", "LOSS=30%"], "socklab: host udp-server of lab 'x' is not running"),
])
def test_bad_input_is_one_line_and_exit_1(capsys, tmp_path, monkeypatch, args, first_words):
    monkeypatch.setattr(impair, "run_helper", lambda *a: pytest.fail("no helper for bad input"))
    code, out, err = run_main(capsys, "impair", args, tmp_path=tmp_path)
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(first_words), err


def test_make_variables_come_from_the_environment(capsys, tmp_path, monkeypatch):
    applied = []
    monkeypatch.setattr(impair, "apply", lambda cid, image, imp: applied.append((cid, imp)))
    running = [container("udp-server", "u1")]
    code, out, err = run_main(capsys, "impair", [], running, {"HOST": "udp-server", "LOSS": "30%", "RATE": ""},
                              tmp_path)
    assert code == 0, err
    assert applied == [("u1", impair.Impairment(loss=30.0))]
    assert out.strip() == "socklab: udp-server impaired, each way: loss 30%. Undo: make heal HOST=udp-server"
    assert impair.load_state("x", tmp_path)["udp-server"]["id"] == "u1"


def test_make_impair_alone_lists_what_is_in_effect(capsys, tmp_path, monkeypatch):
    running = [container("udp-server", "u1"), container("ftp", "f1")]
    code, out, _err = run_main(capsys, "impair", [], running, tmp_path=tmp_path)
    assert code == 0 and "no host of lab 'x' is impaired" in out
    impair.remember("x", "udp-server", running[0], impair.Impairment(loss=30), tmp_path)
    monkeypatch.setattr(impair, "read", lambda cid, image: impair.Status(impair.Impairment(loss=30.0), 3, 2))
    code, out, _err = run_main(capsys, "impair", [], running, tmp_path=tmp_path)
    assert code == 0
    assert "  udp-server  loss 30%   (dropped so far: 3 in, 2 out)" in out.splitlines()
