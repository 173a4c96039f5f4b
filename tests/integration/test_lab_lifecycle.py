"""`make lab` itself: two labs side by side through Compose, each fully separate."""

import json
import os
import subprocess
import uuid

import pytest
from labharness import ROOT, load_tools_lab

tools = load_tools_lab()


def lab_tool(lab: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "LAB": lab}
    env.pop("LAB_PORT_PREFIX", None)
    result = subprocess.run(["python3", str(ROOT / "tools" / "lab.py"), *args], env=env,
                            capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def inspect(lab: str) -> list[dict]:
    return tools.containers(lab)


@pytest.fixture(scope="module")
def two_labs():
    names = [f"t{uuid.uuid4().hex[:6]}", f"t{uuid.uuid4().hex[:6]}"]
    if tools.port_prefix(names[0]) == tools.port_prefix(names[1]):
        names[1] += "x"
    try:
        yield names, [lab_tool(name, "up") for name in names]
    finally:
        for name in names:
            lab_tool(name, "clean", check=False)


def test_two_labs_come_up_side_by_side(two_labs):
    names, ups = two_labs
    for name, up in zip(names, ups):
        assert "all hosts healthy" in up.stdout, up.stdout
        assert f"socklab lab '{name}'" in up.stdout
        assert f"LAB={name} make shell" in up.stdout
        prefix = tools.port_prefix(name)
        assert f"127.0.0.1:{prefix}88->8888/tcp" in up.stdout, up.stdout
    first, second = (inspect(n) for n in names)
    nets = [{net for c in cs for net in c["NetworkSettings"]["Networks"]} for cs in (first, second)]
    assert nets[0].isdisjoint(nets[1])
    vols = [{m["Name"] for c in cs for m in c["Mounts"] if m["Type"] == "volume"} for cs in (first, second)]
    assert vols[0] and vols[1] and vols[0].isdisjoint(vols[1])
    # no fixed container names: compose names them after the lab
    assert all(names[0] in c["Name"] for c in first)


def test_each_lab_serves_its_own_client(two_labs):
    names, _ = two_labs
    for name in names:
        client = next(c for c in inspect(name) if c["Config"]["Labels"]["com.docker.compose.service"] == "client")
        out = subprocess.run(["docker", "exec", client["Id"], "tcp-client", "-m", name],
                             capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.strip().endswith(f"] {name}"), out


def test_warm_up_builds_nothing_and_map_lists_every_host(two_labs):
    names, _ = two_labs
    again = lab_tool(names[0], "up")
    assert "building" not in again.stdout, again.stdout
    shown = lab_tool(names[0], "map").stdout
    for service in json.loads(json.dumps(tools.services())):
        assert f"  {service}" in shown, shown


def test_down_removes_only_that_lab(two_labs):
    names, _ = two_labs
    lab_tool(names[1], "down")
    assert inspect(names[1]) == []
    assert all(c["State"]["Status"] == "running" for c in inspect(names[0]))
    lab_tool(names[1], "up")      # back, for the fixture's clean-up to find
