"""`make lab` itself: two labs side by side through Compose, each fully separate.

The two labs are started at the same time, one under Compose v1 (``docker-compose``) and one
under v2 (``docker compose``), chosen with ``SOCKLAB_COMPOSE``: every test checks both, so
each Compose is seen to start, map, re-run and stop a lab beside a lab of the other.  A
Compose that is missing fails these tests (never a skip): ``python3 tools/install.py test``
installs both.
"""

import concurrent.futures
import os
import subprocess
import uuid

import pytest
from labharness import ROOT, docker_ids
from tools import lab as labtool


COMPOSES = {"v1": "1.", "v2": "2."}     # SOCKLAB_COMPOSE, and the version it labels containers with


def lab_tool(lab: str, *args: str, check: bool = True, compose: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "LAB": lab, "SOCKLAB_COMPOSE": compose or COMPOSE_OF[lab]}
    env.pop("LAB_PORT_PREFIX", None)
    env.pop("LAB_WORKSPACE", None)
    result = subprocess.run(["python3", "-m", "tools.lab", *args], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def inspect(lab: str) -> list[dict]:
    return labtool.containers(lab)


COMPOSE_OF: dict[str, str] = {}         # lab name -> the Compose its tests use


@pytest.fixture(scope="module")
def two_labs():
    """Two labs started at once by ``make lab``, the first under v1, the second under v2;
    cleaned afterwards."""
    for compose in COMPOSES:
        if not labtool.compose_available(compose):
            pytest.fail(f"Compose {compose} is not installed: run `python3 tools/install.py test` (as root)",
                        pytrace=False)
    names = [f"t{uuid.uuid4().hex[:6]}", f"t{uuid.uuid4().hex[:6]}"]
    while labtool.port_prefix(names[0]) == labtool.port_prefix(names[1]):
        names[1] = f"t{uuid.uuid4().hex[:6]}"
    COMPOSE_OF.update(zip(names, sorted(COMPOSES)))
    try:
        lab_tool(names[0], "build")         # once, before the two start at the same time
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            ups = list(pool.map(lambda name: lab_tool(name, "up"), names))
        yield names, ups
    finally:
        for name in names:
            lab_tool(name, "clean", check=False)


def volumes(lab: str) -> set[str]:
    return docker_ids("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={labtool.project_name(lab)}")


def test_the_chosen_compose_made_the_lab(two_labs):
    names, _ = two_labs
    assert {COMPOSE_OF[name] for name in names} == set(COMPOSES)
    for name in names:
        versions = {c["Config"]["Labels"]["com.docker.compose.version"] for c in inspect(name)}
        assert len(versions) == 1 and versions.pop().startswith(COMPOSES[COMPOSE_OF[name]]), (name, versions)


def test_two_labs_come_up_side_by_side(two_labs):
    names, ups = two_labs
    for name, up in zip(names, ups):
        assert "all hosts healthy" in up.stdout, up.stdout
        assert f"socklab lab '{name}'" in up.stdout
        assert f"LAB={name} make shell" in up.stdout
        prefix = labtool.port_prefix(name)
        assert f"127.0.0.1:{prefix}88->8888/tcp" in up.stdout, up.stdout
    first, second = (inspect(n) for n in names)
    nets = [{net for c in cs for net in c["NetworkSettings"]["Networks"]} for cs in (first, second)]
    assert nets[0].isdisjoint(nets[1])
    vols = [{m["Name"] for c in cs for m in c["Mounts"] if m["Type"] == "volume"} for cs in (first, second)]
    assert vols[0] and vols[1] and vols[0].isdisjoint(vols[1])
    # no fixed container names: compose names them after the lab
    for name, cs in zip(names, (first, second)):
        assert all(name in c["Name"] for c in cs), (name, [c["Name"] for c in cs])


def test_each_lab_serves_its_own_client(two_labs):
    names, _ = two_labs
    for name in names:
        client = next(c for c in inspect(name) if c["Config"]["Labels"]["com.docker.compose.service"] == "client")
        out = subprocess.run(["docker", "exec", client["Id"], "tcp-client", "-m", name],
                             capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.strip().endswith(f"] {name}"), out


def test_warm_up_builds_nothing_and_map_lists_every_host(two_labs):
    names, _ = two_labs
    for name in names:
        again = lab_tool(name, "up")
        assert "building" not in again.stdout, (COMPOSE_OF[name], again.stdout)
        shown = lab_tool(name, "map").stdout
        for service in labtool.services():
            assert f"  {service}" in shown, (COMPOSE_OF[name], shown)


def test_down_removes_only_that_lab(two_labs):
    """Last of the file: each Compose takes its own lab down while the other lab is there;
    the fixture's ``clean`` removes what ``down`` keeps (the volumes: the students' work)."""
    names, _ = two_labs
    kept_before = {name: volumes(name) for name in names}
    lab_tool(names[0], "down")                      # v1, beside the running v2 lab
    assert inspect(names[0]) == []
    assert all(c["State"]["Status"] == "running" for c in inspect(names[1]))
    lab_tool(names[1], "down")                      # v2, beside the downed v1 lab and its volumes
    assert inspect(names[1]) == []
    for name in names:
        assert kept_before[name] and volumes(name) == kept_before[name], \
            f"make down ({COMPOSE_OF[name]}) removed volumes: only make clean may"
