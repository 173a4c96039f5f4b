"""One student's Kubernetes lab, run by ``podman kube play``: the generated pods work.

tools/k8s.py writes manifests for a cluster; there is no cluster here.  Podman runs the
pod templates themselves -- the containers, their commands, users, capabilities, read-only
root file systems, volumes (the AF_UNIX socket's emptyDir shared by client and unix-server
in one pod, a podman volume for each PersistentVolumeClaim), and the Secrets (accounts in
the environment, TLS files) -- on a podman network, and the chapter's clients in the client
container reach the servers by their lab names.

The pods are named after the lab's hosts, so one run at a time per machine: a run first
removes what an earlier one, killed before its clean-up, left behind.

What podman does not do, and so what this test does not cover (tests/unit/test_k8s.py
checks those in the manifests, against the API schemas of a pinned Kubernetes version):
Deployments (each pod template is played as a Pod named after its host, since podman's
network resolves pod names), Services, NetworkPolicies, Namespaces, resource limits,
the sysctl ``net.ipv4.ip_unprivileged_port_start`` (podman 4.3 ignores a pod's sysctls: this
test's podman configuration sets it), Secret ``items`` and ``defaultMode`` (podman mounts
every key), ``subPath`` on a Secret volume (podman 4.3 mounts the whole volume there:
each such file is mounted from a file of this test instead, made as a kubelet makes it --
the key's data, owned by root, group fsGroup, mode defaultMode), and the probes (podman runs them with systemd, absent here: this test runs each
readinessProbe's command itself until it passes), and containerPorts (podman 4.3 would
publish each on this machine, so they are left out: every port of a pod is reachable on the
network anyway).

The client's sshd (the class overlay) is reached as a student would, with ``ssh`` and the
generated password, at the client pod's address on the podman network (Services, and so
NodePorts, are not played by podman).
"""

from __future__ import annotations

import base64
import concurrent.futures
import copy
import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tools import install, k8s, lab as labtool

STAMP = r"\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] "
READY_WITHIN = 180          # seconds for every pod to pass its readiness probes
RUN_TIMEOUT = 120           # seconds for any one podman command


class PodmanLab:
    """One student's pods on a podman network of their own; close() removes everything."""

    def __init__(self, manifests: list[dict], image: str, workdir: Path, install):
        self.run_id = "k8s" + uuid.uuid4().hex[:8]
        self.network = f"socklab-{self.run_id}"
        self.workdir = workdir
        self.conf = workdir / "containers.conf"
        # the ulimits tools/install.py puts in /etc/containers/containers.conf, and the sysctl
        # that podman 4.3 does not take from the pod spec (the manifests have it; see above)
        self.conf.write_text("[containers]\ndefault_ulimits = [{}]\ndefault_sysctls = "
                             "[\"net.ipv4.ip_unprivileged_port_start=0\"]\n".format(
                                 ", ".join(json.dumps(u) for u in install.PODMAN_ULIMITS)))
        self.env = {"CONTAINERS_CONF": str(self.conf), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        self.objects = self._for_podman(manifests, image)
        self.pods = [o["metadata"]["name"] for o in self.objects if o["kind"] == "Pod"]
        self.secrets = [o["metadata"]["name"] for o in self.objects if o["kind"] == "Secret"]

    def _for_podman(self, manifests: list[dict], image: str) -> list[dict]:
        """Secrets, claims and each Deployment's pod template as a Pod named after its host.

        Podman's volumes and secrets are named machine-wide: they get this run's prefix.
        """
        rename = {o["metadata"]["name"]: f"{self.run_id}-{o['metadata']['name']}"
                  for o in manifests if o["kind"] in ("Secret", "PersistentVolumeClaim")}
        objects = []
        for o in manifests:
            if o["kind"] in ("Secret", "PersistentVolumeClaim"):
                o = copy.deepcopy(o)
                o["metadata"]["name"] = rename[o["metadata"]["name"]]
                objects.append(o)
            elif o["kind"] == "Deployment":
                template = copy.deepcopy(o["spec"]["template"])
                spec = template["spec"]
                self._secret_files_for_podman(spec, {o["metadata"]["name"]: o for o in manifests
                                                     if o["kind"] == "Secret"})
                for volume in spec.get("volumes", []):
                    if "persistentVolumeClaim" in volume:
                        claim = volume["persistentVolumeClaim"]
                        claim["claimName"] = rename[claim["claimName"]]
                    if "secret" in volume:
                        volume["secret"]["secretName"] = rename[volume["secret"]["secretName"]]
                for c in spec["containers"]:
                    c["image"] = image
                    # podman 4.3 publishes a containerPort on the machine: two 8888s would clash
                    c.pop("ports", None)
                    for var in c.get("env", []):
                        ref = var.get("valueFrom", {}).get("secretKeyRef")
                        if ref:
                            ref["name"] = rename[ref["name"]]
                objects.append({"apiVersion": "v1", "kind": "Pod",
                                "metadata": {"name": o["metadata"]["name"], "labels": template["metadata"]["labels"]},
                                "spec": spec})
        return objects

    def _secret_files_for_podman(self, spec: dict, secrets: dict[str, dict]) -> None:
        """Each ``subPath`` mount of a Secret volume as a ``hostPath`` file of this test: what a
        kubelet bind-mounts there (the key's data, root's, group fsGroup, mode defaultMode)."""
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        group = spec.get("securityContext", {}).get("fsGroup", 0)
        for c in spec["containers"]:
            for mount in c.get("volumeMounts", []):
                source = volumes.get(mount["name"], {}).get("secret")
                if not source or "subPath" not in mount:
                    continue
                path = self.workdir / "secret-files" / source["secretName"] / mount["subPath"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(base64.b64decode(secrets[source["secretName"]]["data"][mount["subPath"]]))
                os.chown(path, 0, group)
                path.chmod(source.get("defaultMode", 0o644))
                name = f"{mount['name']}-{len(volumes)}"
                volumes[name] = {"name": name, "hostPath": {"path": str(path), "type": "File"}}
                mount["name"] = name
                del mount["subPath"]
        used = {m["name"] for c in spec["containers"] for m in c.get("volumeMounts", [])}
        spec["volumes"] = [v for v in volumes.values() if v["name"] in used]

    def address(self, pod: str) -> str:
        """The pod's address on the podman network (its infra container's)."""
        infra = self.podman("pod", "inspect", pod, "--format", "{{.InfraContainerID}}").stdout.strip()
        return self.podman("inspect", infra, "--format",
                           "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}").stdout.strip()

    def podman(self, *args: str, check: bool = True, timeout: float = RUN_TIMEOUT, input: str | None = None):
        result = subprocess.run(["podman", "--network-backend", "netavark", *args], env=self.env,
                                capture_output=True, text=True, timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
        return result

    def sweep(self) -> None:
        """What a run killed before its clean-up left: pods of these names, and the
        volumes, secrets and networks of this test's other runs (named k8s<8 hex digits>)."""
        self._remove_pods()
        left = re.compile(r"k8s[0-9a-f]{8}-")
        for kind in ("volume", "secret"):
            listed = self.podman(kind, "ls", "--format", "{{.Name}}", check=False).stdout.split()
            for name in [n for n in listed if left.match(n) and not n.startswith(self.run_id)]:
                self.podman(kind, "rm", *(["--force"] if kind == "volume" else []), name, check=False)
        for name in self.podman("network", "ls", "--format", "{{.Name}}", check=False).stdout.split():
            if re.fullmatch(r"socklab-k8s[0-9a-f]{8}", name) and name != self.network:
                self.podman("network", "rm", "--force", name, check=False)

    def up(self) -> None:
        self.sweep()
        self.podman("network", "create", self.network)
        # podman 4.3 stores a played Secret as YAML, then reads a secretKeyRef's secret as a JSON
        # map of its data and a secret volume's as a Secret object: each goes in as it is used
        for o in self.objects:
            if o["kind"] == "Secret":
                name = o["metadata"]["name"]
                path = self.workdir / f"{name}.json"
                as_env, as_volume = name in self.secret_refs("env"), name in self.secret_refs("volume")
                assert not (as_env and as_volume), f"podman 4.3 cannot use secret {name} both ways"
                # ... and writes a volume's files from the object as they stand: stringData, decoded
                decoded = {k: base64.b64decode(v).decode() for k, v in o["data"].items()}
                path.write_text(json.dumps(o["data"] if as_env else
                                           {**{k: v for k, v in o.items() if k != "data"}, "stringData": decoded}))
                self.podman("secret", "create", name, str(path))
        play = self.workdir / "play.yaml"
        play.write_text(yaml.safe_dump_all([o for o in self.objects if o["kind"] != "Secret"], sort_keys=False))
        self.podman("kube", "play", "--network", self.network, str(play), timeout=300)

    def secret_refs(self, how: str) -> set[str]:
        """The Secrets the pods read as environment variables (*how* = "env") or as volumes."""
        names = set()
        for o in self.objects:
            if o["kind"] != "Pod":
                continue
            if how == "volume":
                names |= {v["secret"]["secretName"] for v in o["spec"].get("volumes", []) if "secret" in v}
            else:
                names |= {var["valueFrom"]["secretKeyRef"]["name"] for c in o["spec"]["containers"]
                          for var in c.get("env", []) if "secretKeyRef" in var.get("valueFrom", {})}
        return names

    def container(self, pod: str, name: str) -> str:
        return f"{pod}-{name}"

    def wait_ready(self) -> None:
        """Run every container's readinessProbe command in it until each passes."""
        deadline = time.monotonic() + READY_WITHIN
        waiting = {(o["metadata"]["name"], c["name"]): c["readinessProbe"]["exec"]["command"]
                   for o in self.objects if o["kind"] == "Pod" for c in o["spec"]["containers"]
                   if "readinessProbe" in c}
        assert waiting, "no readiness probes in the manifests"
        while waiting:
            for (pod, name), command in list(waiting.items()):
                if self.podman("exec", self.container(pod, name), *command, check=False).returncode == 0:
                    del waiting[(pod, name)]
            if not waiting:
                return
            if time.monotonic() > deadline:
                states = self.podman("ps", "-a", "--format", "{{.Names}} {{.Status}}", check=False).stdout
                logs = {f"{p}-{n}": self.podman("logs", "--tail", "15", self.container(p, n), check=False)
                        for p, n in waiting}
                raise AssertionError(f"not ready after {READY_WITHIN} s: {sorted(waiting)}\n{states}\n"
                                     + "\n".join(f"{k}:\n{v.stdout}{v.stderr}" for k, v in logs.items()))
            time.sleep(0.5)

    def client(self, *argv: str, input: str | None = None):
        return self.podman("exec", "-i", self.container("client", "client"), *argv, check=False, input=input)

    def _remove_pods(self) -> None:
        # everything goes, volumes included, with no need to wait out the mail host's grace
        # period; one `pod rm` per pod, side by side: one command removes its pods one after
        # the other, and podman 4.3 (cgroupfs, cgroup v1) spends about 3 s removing each pod's
        # cgroup -- half a minute for the ten pods
        with concurrent.futures.ThreadPoolExecutor(max(1, len(self.pods))) as run:
            list(run.map(lambda pod: self.podman("pod", "rm", "--force", "--ignore", "--time", "2", pod,
                                                 check=False), self.pods))

    def close(self) -> None:
        """Pods, then volumes, secrets and the network: each step runs even if one before failed."""
        self._remove_pods()
        listed = self.podman("volume", "ls", "--quiet", check=False).stdout.split()
        for volume in [v for v in listed if v.startswith(self.run_id + "-")]:     # claims, and whatever else
            self.podman("volume", "rm", "--force", volume, check=False)
        for secret in self.secrets:
            self.podman("secret", "rm", secret, check=False)
        self.podman("network", "rm", "--force", self.network, check=False)


@pytest.fixture(scope="module")
def podlab(tmp_path_factory):
    if not shutil.which("podman"):
        pytest.fail("this test needs podman: run `python3 tools/install.py test` (as root it installs it)",
                    pytrace=False)
    labtool.build()                                       # the lab image and pki/ of this checkout
    image = "localhost/" + labtool.LAB_IMAGE
    docker_id = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", labtool.LAB_IMAGE],
                               capture_output=True, text=True, check=True).stdout.strip()
    have = subprocess.run(["podman", "image", "inspect", "--format", "{{.Id}}", image],
                          capture_output=True, text=True).stdout.strip()
    if have.removeprefix("sha256:") != docker_id.removeprefix("sha256:"):
        save = subprocess.Popen(["docker", "save", labtool.LAB_IMAGE], stdout=subprocess.PIPE)
        subprocess.run(["podman", "load", "-q"], stdin=save.stdout, check=True, capture_output=True, timeout=600)
        save.stdout.close()
        assert save.wait() == 0
        if have:                    # the image this tag named before, now nameless: of no use
            subprocess.run(["podman", "rmi", have], capture_output=True)
    work = tmp_path_factory.mktemp("k8s-podman")
    student = k8s.Student("pat", "Pat Podman")
    manifests = k8s.generate([student], k8s.load_compose(env={}), users=k8s.image_users(), pki=k8s.PKI,
                             state=work / "out", opts=k8s.Options(image=image))["pat"]
    lab = PodmanLab(manifests, image, work, install)
    lab.accounts = json.loads((work / "out" / "pat" / k8s.KEPT).read_text())
    try:
        lab.up()
        lab.wait_ready()
        yield lab
    finally:
        lab.close()


def test_timestamp_round_trips_over_tcp_udp_and_the_unix_socket(podlab):
    for command in ("tcp-client", "udp-client", "ss-client", "unix-client"):
        result = podlab.client(command, "--message", f"hello from {command}")
        assert result.returncode == 0, result
        assert re.fullmatch(STAMP + f"hello from {command}", result.stdout.strip()), result


def test_ftp_listing_with_the_generated_password(podlab):
    # ftp-client -u takes the password from FTP_PASSWORD: the Secret's, not compose.yaml's
    assert podlab.accounts["FTP_PASSWORD"] != "password"
    result = podlab.client("ftp-client", "-u", podlab.accounts["FTP_USER"], "ls")     # passive, the default
    assert result.returncode == 0, result
    assert "outbox" in result.stdout, result
    active = podlab.client("ftp-client", "--active", "ls", "/pub")      # the server connects back from port 20
    assert active.returncode == 0 and active.stdout.strip(), active
    refused = podlab.client("ftp-client", "-u", podlab.accounts["FTP_USER"], "-p", "password", "ls")
    assert refused.returncode != 0 and "530" in refused.stdout + refused.stderr, refused


def test_mail_sent_and_read_over_imap(podlab):
    subject = f"k8s {uuid.uuid4().hex[:8]}"
    # the student's own password, from the Secret (on their card); compose.yaml's no longer opens it
    login = ["-u", "alice", "-p", podlab.accounts["MAIL_PASSWORD_alice"]]
    refused = podlab.client("mail-send", "-u", "alice", "-p", "password", "--to", "alice@lab.test", "-b", "x")
    assert refused.returncode == 1 and "535" in refused.stderr, refused
    sent = podlab.client("mail-send", *login, "--to", "alice@lab.test", "-s", subject, "-b", "through podman")
    assert sent.returncode == 0 and sent.stdout.startswith("accepted by mail:"), sent
    deadline = time.monotonic() + 30
    while True:         # delivery (LMTP into the Maildir) follows the 250 reply
        found = podlab.client("imap-client", *login, "search", "--subject", subject)
        assert found.returncode == 0, found
        uids = [line.split()[0] for line in found.stdout.splitlines()[1:]]
        if uids or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert len(uids) == 1, found
    body = podlab.client("imap-client", *login, "fetch", uids[0])
    assert body.returncode == 0 and "through podman" in body.stdout, body


def test_an_article_is_read(podlab):
    result = podlab.client("news-client", input="3\n")
    assert result.returncode == 0, result
    assert "Subject: socket.recv() returns less data than I sent" in result.stdout, result


def test_servers_run_as_in_compose(podlab):
    """Users and capabilities in the running containers are the manifests', not podman defaults."""
    ftp = podlab.podman("exec", "ftp-ftp", "sh", "-c", "id -u; grep CapEff /proc/1/status; touch /x 2>&1 || true")
    lines = ftp.stdout.splitlines()
    assert lines[0] == "1001" and lines[1].split()[1] == "0000000000000000", ftp
    assert "Read-only file system" in ftp.stdout, ftp
    client = podlab.client("sh", "-c", "id -u; grep CapBnd /proc/self/status")
    assert client.stdout.split()[0] == "1000", client
    assert int(client.stdout.split()[2], 16) == (1 << 12) | (1 << 13), client    # NET_ADMIN, NET_RAW only


def ssh_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.settimeout(2)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def ssh(podlab, command: str, password: str):
    """ssh into the client pod's sshd as student, with *password* (from SSH_ASKPASS, no sshpass)."""
    host = podlab.address("client")
    deadline = time.monotonic() + 60
    while not ssh_answers(host, 2222):
        assert time.monotonic() < deadline, f"sshd does not answer on {host}:2222: " + \
            podlab.podman("logs", "--tail", "20", podlab.container("client", "client"), check=False).stderr
        time.sleep(0.3)
    askpass = podlab.workdir / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
    askpass.chmod(0o700)
    env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"}
    return subprocess.run(["ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                           "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=20", "-o", "PubkeyAuthentication=no",
                           "-o", "NumberOfPasswordPrompts=1", "-p", "2222", f"student@{host}", command],
                          capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL,
                          start_new_session=True)


def test_a_student_logs_in_over_ssh_with_the_cards_password(podlab):
    password = podlab.accounts["STUDENT_PASSWORD"]
    res = ssh(podlab, "pwd; id -un; tcp-client -m hi; echo FTP=$FTP_PASSWORD", password)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[:2] == ["/home/student/workspace", "student"], res.stdout
    assert re.fullmatch(STAMP + "hi", lines[2]), res.stdout         # from tcp-server, by its lab name
    assert lines[3] == "FTP=" + podlab.accounts["FTP_PASSWORD"]    # the session has the client's settings
    wrong = ssh(podlab, "id -un", password + "x")
    assert wrong.returncode != 0 and "Permission denied" in wrong.stderr, wrong


def test_sshd_runs_as_the_student_with_root_owned_files(podlab):
    res = podlab.client("sh", "-c", "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline | grep -Eq "
                        "'^(sshd: )?/usr/sbin/sshd -D' && echo \"$(stat -c %U $p) $(tr '\\0' ' ' < $p/cmdline)\"; done; "
                        "stat -c '%U:%G %a %n' /etc/shadow "
                        "/etc/socklab/ssh/ssh_host_ed25519_key /etc/socklab/ssh/authorized_keys")
    # (sshd's listener calls itself "sshd: /usr/sbin/sshd -D ... [listener]")
    assert re.search(r"^student (sshd: )?/usr/sbin/sshd -D", res.stdout, re.M), res
    for line in res.stdout.splitlines()[-3:]:
        assert line.startswith("root:student 440 "), res.stdout
