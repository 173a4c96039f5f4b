"""The lab as a whole: the topology, the client host, privileges, published ports."""

import subprocess
import tomllib

import pytest
from labharness import ROOT

SERVERS = ["tcp-server", "udp-server", "ss-server", "unix-server"]


def test_every_host_of_compose_yaml_runs(lab):
    """Compose itself parses compose.yaml to the same hosts the test lab runs."""
    out = subprocess.run(lab.tools.compose_command() + ["-f", str(ROOT / "compose.yaml"), "config", "--services"],
                         capture_output=True, text=True, check=True, env={**lab.env}).stdout
    assert sorted(out.split()) == sorted(lab.services)
    assert set(SERVERS + ["client"]) <= set(lab.services)


def test_every_command_is_on_path_with_help(lab):
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for command in scripts:
        result = lab.exec("client", [command, "--help"])
        assert result.ok, f"{command}: {result}"
        assert "usage:" in result.stdout.lower(), f"{command}: {result}"


@pytest.mark.parametrize("tool", ["nc", "telnet", "curl", "tcpdump", "ip", "ss", "ping", "swaks", "openssl", "python3"])
def test_the_usual_tools_are_there(lab, tool):
    assert lab.exec("client", ["sh", "-c", f"command -v {tool}"]).ok


def test_student_can_capture_and_ping(lab):
    ping = lab.exec("client", ["ping", "-c", "1", "-W", "2", "tcp-server"])
    assert ping.ok, ping
    capture = lab.exec("client", ["sh", "-c",
                                  "tcpdump -n -c 2 -i eth0 udp port 8888 2>/dev/null & sleep 1; "
                                  "udp-client -m seen >/dev/null; wait"])
    assert capture.ok, capture
    assert "8888" in capture.stdout and "UDP" in capture.stdout, capture


def test_workspace_code_runs_in_the_lab(lab):
    workspace = lab.exec("client", ["pwd"]).stdout.strip()
    assert workspace == "/home/student/workspace"
    write = lab.exec("client", ["sh", "-c", "printf 'import socket\\nprint(socket.gethostbyname(\"tcp-server\"))\\n' > mine.py"])
    assert write.ok, write
    result = lab.exec("client", ["python3", "mine.py"])
    assert result.ok and result.stdout.count(".") == 3, result


def test_servers_run_unprivileged(lab):
    for name in SERVERS:
        status = lab.exec(name, ["sh", "-c", "id -un; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status"])
        assert status.ok, status
        lines = status.stdout.split()
        assert lines[0] == "socklab", (name, status)
        assert "0000000000000000" in status.stdout, (name, status)     # no effective capabilities
        assert lab.exec(name, ["touch", "/etc/x"]).exit_code != 0      # read-only root file system
    assert lab.exec("client", ["id", "-un"]).stdout.strip() == "student"


def test_host_ports_are_published_on_loopback_only(lab):
    for name in lab.services:
        c = lab.container(name)
        for binds in (c.attrs["NetworkSettings"]["Ports"] or {}).values():
            for b in binds or []:
                assert b["HostIp"] == "127.0.0.1", (name, b)
                assert int(b["HostPort"]) // 100 == lab.port_prefix, (name, b)


def test_host_reaches_tcp_server_through_published_port(lab):
    import socket
    port = lab.host_port("tcp-server", 8888)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"from the host")
        assert s.recv(1024).endswith(b"] from the host")


def test_lab_ca_is_trusted_in_the_client(lab):
    bundle = lab.exec("client", ["grep", "-c", "BEGIN CERTIFICATE", "/etc/ssl/certs/ca-certificates.crt"])
    assert bundle.ok
    ca = (ROOT / "pki" / "ca.crt").read_text()
    in_container = lab.exec("client", ["cat", "/usr/local/share/ca-certificates/socklab-lab-ca.crt"])
    assert in_container.ok and in_container.stdout == ca, in_container
    verify = lab.exec("client", ["openssl", "verify", "/usr/local/share/ca-certificates/socklab-lab-ca.crt"])
    assert verify.ok, verify


def test_every_host_is_ready_and_docker_checks_the_same_rarely(lab):
    """Every host runs and passes its healthcheck's probe now (tools/lab.py's readiness);
    Docker was given that same probe, to run once a minute only (an idle lab stays cheap)."""
    assert lab.tools.wait_ready(lab.name, timeout=60) < 60
    for name in lab.services:
        c = lab.container(name)
        assert c.attrs["State"]["Status"] == "running", name
        probe = lab.tools.probe_command(c.attrs)
        assert (probe is None) == (name == "client"), (name, probe)
        if probe:
            assert probe[0] == "lab-probe", (name, probe)
            assert lab.exec(name, probe).ok, name
            assert c.attrs["Config"]["Healthcheck"]["Interval"] >= 60e9, name
