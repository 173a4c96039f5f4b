"""tools/k8s.py: compose.yaml and a roster become Kubernetes manifests, with nothing lost.

Every manifest is validated offline against the API schemas of a pinned Kubernetes version
(``kubernetes-validate``, strict: an unknown field is an error).  The rest checks what the
schemas cannot: that each container keeps compose.yaml's least privilege, that every host
has a Service with its ports, that the AF_UNIX socket and the workspace are shared the way
the README says, that only SSH comes in -- to the client's sshd, which the class overlay
(tools/classroom.compose.yaml) starts, with its files from per-student Secrets -- that
passwords, host keys and cards are per student and kept, and that a compose key the
generator does not know stops it, naming the key and the host.
"""

from __future__ import annotations

import base64
import copy
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tools import k8s

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = "1.37.0"               # the newest API version kubernetes-validate 1.37.0 ships schemas for

Student = k8s.Student
COMPOSE = k8s.load_compose(env={})          # compose.yaml with its defaults, as a fresh shell has it
# ... with the class overlay on top (its bind mounts name no files here: only the ports count)
LAB = k8s.merge(COMPOSE, k8s.load_compose(k8s.CLASS_OVERLAY, env={}))
ALICE = Student("alice", "Alice Wang")
BOB = Student("bob_li", "Bob Li", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample bob@laptop")


@pytest.fixture
def pki(tmp_path):
    """Stand-in certificate files named like pki/'s (contents do not matter here)."""
    root = tmp_path / "pki"
    (root / "hosts").mkdir(parents=True)
    (root / "ca.crt").write_text("CA\n")
    for host in COMPOSE["services"]:
        (root / "hosts" / f"{host}.crt").write_text(f"cert {host}\n")
        (root / "hosts" / f"{host}.key").write_text(f"key {host}\n")
    return root


def generate(pki, state, compose=None, students=(ALICE, BOB), **options):
    return k8s.generate(list(students), copy.deepcopy(compose or COMPOSE), users=k8s.image_users(), pki=pki,
                        state=state, opts=k8s.Options(**options))


@pytest.fixture
def manifests(pki, tmp_path):
    return generate(pki, tmp_path / "state")


def kinds(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def containers(objects):
    """host name -> (its container, its pod's spec)"""
    found = {}
    for deployment in kinds(objects, "Deployment").values():
        spec = deployment["spec"]["template"]["spec"]
        for c in spec["containers"]:
            found[c["name"]] = (c, spec)
    return found


def secret(objects, name, key):
    return base64.b64decode(kinds(objects, "Secret")[name]["data"][key]).decode()


# --------------------------------------------------------------------------- the API schemas

def test_every_manifest_validates_against_the_pinned_kubernetes_schemas(manifests):
    count = 0
    for objects in manifests.values():
        for o in objects:
            kubernetes_validate.validate(o, KUBERNETES, strict=True)
            count += 1
    assert count == 2 * len(manifests["alice"]) and count > 40


def test_the_schema_check_can_fail(manifests):
    broken = copy.deepcopy(kinds(manifests["alice"], "Deployment")["ftp"])
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonroot"] = True   # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_the_yaml_written_is_the_objects(manifests, tmp_path):
    written = k8s.write(manifests, tmp_path / "out")
    assert {p.name for p in written if p.parent.name == "alice"} == {
        "00-namespace.yaml", "10-secrets.yaml", "20-volumes.yaml", "30-hosts.yaml", "40-services.yaml",
        "50-network-policies.yaml"}
    read = [o for p in sorted(written) if p.parent.name == "alice" for o in yaml.safe_load_all(p.read_text())]
    assert sorted(map(str, read)) == sorted(map(str, manifests["alice"]))
    assert (tmp_path / "out" / "alice" / "10-secrets.yaml").stat().st_mode & 0o077 == 0
    assert "&id" not in (tmp_path / "out" / "alice" / "30-hosts.yaml").read_text()   # no YAML aliases


# --------------------------------------------------------------------------- one namespace per student

def test_a_namespace_per_student_and_everything_in_it(manifests):
    assert set(manifests) == {"alice", "bob_li"}
    for sid, ns in (("alice", "socklab-alice"), ("bob_li", "socklab-bob-li")):
        objects = manifests[sid]
        assert objects[0]["kind"] == "Namespace" and objects[0]["metadata"]["name"] == ns
        assert all(o["metadata"]["namespace"] == ns for o in objects[1:])


def test_ids_that_meet_in_one_namespace_are_refused(pki, tmp_path):
    with pytest.raises(k8s.K8sError, match="bob_li and bob-li would share namespace socklab-bob-li"):
        generate(pki, tmp_path, students=[BOB, Student("bob-li", "Another Bob")])
    with pytest.raises(k8s.K8sError, match="student id 'carol_' cannot name a Kubernetes namespace"):
        generate(pki, tmp_path, students=[Student("carol_", "Carol")])


def test_annotations_say_what_a_host_is_but_not_compose_passwords(manifests):
    ftp = kinds(manifests["alice"], "Deployment")["ftp"]["metadata"]["annotations"]
    assert ftp["socklab/about"].startswith("FTP server")
    assert not any("password" in value for value in ftp.values())


# --------------------------------------------------------------------------- least privilege, host by host

def test_each_container_keeps_compose_least_privilege(manifests):
    users = k8s.image_users()
    found = containers(manifests["alice"])
    assert set(found) == set(COMPOSE["services"])
    for host, service in COMPOSE["services"].items():
        c, pod = found[host]
        sec = c["securityContext"]
        assert sec["runAsNonRoot"] is True and pod["securityContext"]["runAsNonRoot"] is True
        assert (sec["runAsUser"], sec["runAsGroup"]) == users[service["user"]], host
        assert sec["capabilities"]["drop"] == ["ALL"], host
        assert sec["capabilities"].get("add", []) == service.get("cap_add", []), host
        no_new_privileges = "no-new-privileges:true" in service.get("security_opt", [])
        assert sec["allowPrivilegeEscalation"] is (not no_new_privileges), host
        assert sec["readOnlyRootFilesystem"] is bool(service.get("read_only")), host
        assert sec["seccompProfile"] == {"type": "RuntimeDefault"} and "privileged" not in sec
        assert pod["automountServiceAccountToken"] is False
        tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] in service.get("tmpfs", [])]
        assert len(tmp) == len(service.get("tmpfs", [])), host
        for mount in tmp:
            [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
            assert volume["emptyDir"]["medium"] == "Memory"
        assert set(c["resources"]["limits"]) == {"cpu", "memory"} and set(c["resources"]["requests"]) == {"cpu", "memory"}


def test_only_the_client_keeps_capabilities_and_may_gain_them(manifests):
    """tcpdump's file capabilities need the client without no_new_privs, as in compose.yaml."""
    found = containers(manifests["alice"])
    client = found["client"][0]["securityContext"]
    assert client["capabilities"]["add"] == ["NET_RAW", "NET_ADMIN"]
    assert client["allowPrivilegeEscalation"] is True
    for host, (c, _pod) in found.items():
        if host != "client":
            assert "add" not in c["securityContext"]["capabilities"]
            assert c["securityContext"]["allowPrivilegeEscalation"] is False


def test_users_come_from_the_image_dockerfile():
    assert k8s.image_users() == {"student": (1000, 1000), "socklab": (1001, 1001)}


def test_the_sysctl_for_low_ports_is_on_every_server_pod(manifests):
    for host, (c, pod) in containers(manifests["alice"]).items():
        want = COMPOSE["services"][host].get("sysctls", {})
        if want:
            assert {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"} in pod["securityContext"]["sysctls"]


def test_compose_limits_become_resources(manifests):
    found = containers(manifests["alice"])
    for host, service in COMPOSE["services"].items():
        limits = found[host][0]["resources"]["limits"]
        requests = found[host][0]["resources"]["requests"]
        if "mem_limit" in service:
            assert limits["memory"] == re.sub(r"m$", "Mi", str(service["mem_limit"]))
        if "cpus" in service:
            assert k8s._quantity(limits["cpu"]) == pytest.approx(float(service["cpus"]))
        for kind in ("cpu", "memory"):
            assert k8s._quantity(requests[kind]) <= k8s._quantity(limits[kind])
        if "pids_limit" in service:
            pod = kinds(manifests["alice"], "Deployment")
            annotations = [d["spec"]["template"]["metadata"].get("annotations", {}) for d in pod.values()]
            assert any(str(service["pids_limit"]) in a.values() for a in annotations)


def test_healthchecks_become_probes(manifests):
    for host, service in COMPOSE["services"].items():
        c = containers(manifests["alice"])[host][0]
        check = service.get("healthcheck")
        if not check:
            assert "readinessProbe" not in c
            continue
        for probe in (c["readinessProbe"], c["livenessProbe"]):
            assert probe["exec"]["command"] == check["test"][1:]
            assert probe["periodSeconds"] == k8s._duration(check["interval"], "")
            assert probe["failureThreshold"] == check["retries"]


# --------------------------------------------------------------------------- names, ports, volumes

def test_every_host_has_a_service_of_its_name_with_its_ports(manifests):
    services = kinds(manifests["alice"], "Service")
    for host, service in LAB["services"].items():
        svc = services[host]["spec"]
        assert svc["clusterIP"] == "None"           # the name resolves to the pod, as on the Compose network
        want = {p for spec in service.get("ports", []) for p in k8s.parse_port(spec, host)}
        test = service.get("healthcheck", {}).get("test", [])
        if test[1:3] in (["lab-probe", "tcp"], ["lab-probe", "udp"]):
            want |= {(int(p), test[2].upper()) for p in test[3:]}
        assert {(p["port"], p["protocol"]) for p in svc.get("ports", [])} == want, host
    ftp = {p["port"] for p in services["ftp"]["spec"]["ports"]}
    assert {21, *range(20030, 20043)} == ftp                   # control and every passive port
    assert services["udp-server"]["spec"]["ports"][0]["protocol"] == "UDP"
    assert {p["port"] for p in services["student-server"]["spec"]["ports"]} == {7000}    # lab network only
    assert {p["port"] for p in services["client"]["spec"]["ports"]} == {2222}            # sshd


def test_unix_server_shares_the_client_pod_and_its_socket_folder(manifests):
    deployments = kinds(manifests["alice"], "Deployment")
    assert "unix-server" not in deployments
    pod = deployments["client"]["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["client", "unix-server"]
    assert {"name": "unix-socket", "emptyDir": {}} in pod["volumes"]
    for c in pod["containers"]:
        assert {"name": "unix-socket", "mountPath": "/run/socklab"} in c["volumeMounts"]
    assert kinds(manifests["alice"], "Service")["unix-server"]["spec"]["selector"] == {"socklab/host": "client"}


def test_named_volumes_are_claims_and_the_workspace_is_shared_on_one_node(manifests):
    claims = kinds(manifests["alice"], "PersistentVolumeClaim")
    assert set(claims) == {"ftp", "ftp-backup", "mail", "news", "workspace"}
    student_server = kinds(manifests["alice"], "Deployment")["student-server"]["spec"]["template"]["spec"]
    term = student_server["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term == {"labelSelector": {"matchLabels": {"socklab/host": "client"}},
                    "topologyKey": "kubernetes.io/hostname"}
    [mount] = [m for m in student_server["containers"][0]["volumeMounts"] if m["name"] == "workspace"]
    assert mount == {"name": "workspace", "mountPath": "/home/student/workspace", "readOnly": True}
    # read-only as a volume too, so fsGroup 1001 never regroups the student's files
    assert {"name": "workspace", "persistentVolumeClaim": {"claimName": "workspace", "readOnly": True}} \
        in student_server["volumes"]
    assert student_server["securityContext"]["fsGroup"] == 1001
    client = kinds(manifests["alice"], "Deployment")["client"]["spec"]["template"]["spec"]
    assert {"name": "workspace", "persistentVolumeClaim": {"claimName": "workspace"}} in client["volumes"]
    assert client["securityContext"]["fsGroup"] == 1000


def test_each_server_sees_only_its_own_key(manifests):
    for host, (c, pod) in containers(manifests["alice"]).items():
        [tls] = [v for v in pod["volumes"] if v["name"] == f"tls-{host}"]
        items = [i["key"] for i in tls["secret"]["items"]]
        assert items == (["ca.crt"] if host == "client" else ["ca.crt", f"{host}.crt", f"{host}.key"])
        assert {"name": f"tls-{host}", "mountPath": "/etc/socklab/tls", "readOnly": True} in c["volumeMounts"]
    assert secret(manifests["alice"], "lab-tls", "ftp.key") == "key ftp\n"


def test_no_lab_ca_says_to_build_first(tmp_path):
    with pytest.raises(k8s.K8sError, match=r"no lab CA in .*: run `make images` first"):
        generate(tmp_path / "nothing", tmp_path / "state")


# --------------------------------------------------------------------------- the way in: SSH only

def test_network_policies_allow_the_lab_dns_and_ssh_only(manifests):
    policies = kinds(manifests["alice"], "NetworkPolicy")
    assert policies["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    lab = policies["within-the-lab"]["spec"]
    assert lab["ingress"] == [{"from": [{"podSelector": {}}]}] and lab["egress"] == [{"to": [{"podSelector": {}}]}]
    dns = policies["dns"]["spec"]["egress"][0]
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    ssh = policies["ssh-in"]["spec"]
    assert ssh["podSelector"] == {"matchLabels": {"socklab/host": "client"}}
    assert ssh["ingress"] == [{"ports": [{"protocol": "TCP", "port": 2222}]}]
    assert set(policies) == {"default-deny", "within-the-lab", "dns", "ssh-in"}


def test_the_ssh_service_is_the_only_one_reachable_from_outside(manifests):
    outside = [s for s in kinds(manifests["alice"], "Service").values() if s["spec"].get("type")]
    assert [s["metadata"]["name"] for s in outside] == ["client-ssh"]
    assert outside[0]["spec"]["type"] == "NodePort"
    assert outside[0]["spec"]["ports"] == [{"name": "ssh", "port": 2222, "targetPort": 2222, "protocol": "TCP"}]


def test_a_load_balancer_for_one_network(pki, tmp_path):
    objects = generate(pki, tmp_path, ssh_service="LoadBalancer", ssh_from="10.20.0.0/16")["alice"]
    svc = kinds(objects, "Service")["client-ssh"]["spec"]
    assert svc["type"] == "LoadBalancer" and svc["loadBalancerSourceRanges"] == ["10.20.0.0/16"]
    assert svc["externalTrafficPolicy"] == "Local"
    ssh = kinds(objects, "NetworkPolicy")["ssh-in"]["spec"]["ingress"][0]
    assert ssh["from"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    for o in objects:
        kubernetes_validate.validate(o, KUBERNETES, strict=True)


@pytest.mark.parametrize("key, value", [
    ("ports", ["127.0.0.1:20022:2200/tcp"]),
    ("expose", ["2200"]),
    ("healthcheck", {"test": ["CMD", "lab-probe", "tcp", "2200"], "interval": "2s"}),
])
def test_the_ssh_port_is_sshds_whatever_else_the_client_offers(pki, tmp_path, key, value):
    compose = copy.deepcopy(COMPOSE)
    compose["services"]["client"][key] = value
    objects = generate(pki, tmp_path, compose)["alice"]
    assert kinds(objects, "Service")["client-ssh"]["spec"]["ports"][0]["port"] == 2222
    assert kinds(objects, "NetworkPolicy")["ssh-in"]["spec"]["ingress"][0]["ports"][0]["port"] == 2222
    assert {p["port"] for p in kinds(objects, "Service")["client"]["spec"]["ports"]} == {2200, 2222}


# --------------------------------------------------------------------------- the client's sshd

def test_the_client_runs_the_class_overlays_sshd(manifests):
    overlay = yaml.safe_load(k8s.CLASS_OVERLAY.read_text())["services"]["client"]
    client, pod = containers(manifests["alice"])["client"]
    assert client["args"] == overlay["command"] == ["/usr/sbin/sshd", "-D", "-e", "-f", "/etc/socklab/ssh/sshd_config"]
    assert {"containerPort": 2222, "protocol": "TCP"} in client["ports"]
    sshd_config = secret(manifests["alice"], "ssh", "sshd_config")
    assert re.search(r"^Port 2222$", sshd_config, re.M) and "StrictModes yes" in sshd_config
    assert "ForceCommand /usr/local/bin/lab-ssh-session" in sshd_config
    ssh = kinds(manifests["alice"], "Service")["client-ssh"]["spec"]
    assert ssh["ports"] == [{"name": "ssh", "port": 2222, "targetPort": 2222, "protocol": "TCP"}]
    assert ssh["selector"] == {"socklab/host": "client"}
    assert [c["name"] for c in pod["containers"]][0] == "client"      # the Service's pod is sshd's


def test_sshd_files_come_from_secrets_file_by_file(manifests):
    """Every file on its own (subPath): the folder stays the image's, not a world-writable
    tmpfs that StrictModes refuses; root's files, readable by the student's group only."""
    client, pod = containers(manifests["alice"])["client"]
    mounts = {m["mountPath"]: m for m in client["volumeMounts"] if m["name"].startswith("secret-")}
    assert {path: (m["name"], m["subPath"]) for path, m in mounts.items()} == {
        "/etc/socklab/ssh/sshd_config": ("secret-ssh", "sshd_config"),
        "/etc/socklab/ssh/ssh_host_ed25519_key": ("secret-ssh", "ssh_host_ed25519_key"),
        "/etc/socklab/ssh/ssh_host_ed25519_key.pub": ("secret-ssh", "ssh_host_ed25519_key.pub"),
        "/etc/socklab/ssh/authorized_keys": ("secret-ssh", "authorized_keys"),
        "/etc/shadow": ("secret-shadow", "shadow")}
    assert all(m["readOnly"] for m in mounts.values())
    volumes = {v["name"]: v for v in pod["volumes"]}
    for name in ("ssh", "shadow"):
        assert volumes[f"secret-{name}"]["secret"] == {"secretName": name, "defaultMode": 0o440, "optional": False}
    assert pod["securityContext"]["fsGroup"] == 1000 == client["securityContext"]["runAsGroup"]
    for c in pod["containers"][1:]:          # unix-server, in the same pod, sees none of them
        assert not any(m["name"].startswith("secret-") for m in c.get("volumeMounts", []))
    assert "BEGIN OPENSSH PRIVATE KEY" in secret(manifests["alice"], "ssh", "ssh_host_ed25519_key")


def test_a_password_student_has_a_hash_and_a_key_student_none(manifests, tmp_path):
    classroom = k8s.classroom
    password = secret(manifests["alice"], "accounts", "STUDENT_PASSWORD")
    assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", password)        # typed from a card
    shadow = secret(manifests["alice"], "shadow", "shadow")
    record = classroom.LabRecord("alice", "Alice Wang", 0, password)
    assert classroom.shadow_matches(shadow, record)
    assert not classroom.shadow_matches(shadow, classroom.LabRecord("alice", "Alice Wang", 0, password + "x"))
    assert "PasswordAuthentication yes" in secret(manifests["alice"], "ssh", "sshd_config")
    assert secret(manifests["alice"], "ssh", "authorized_keys") == ""
    bob = manifests["bob_li"]
    assert [ln for ln in secret(bob, "shadow", "shadow").splitlines() if ln.startswith("student:")] == [
        "student:*:19700:0:99999:7:::"]
    assert "PasswordAuthentication no" in secret(bob, "ssh", "sshd_config")
    assert secret(bob, "ssh", "authorized_keys") == BOB.ssh_key + "\n"


def test_host_key_and_password_hash_stay_the_same_on_a_rerun(pki, tmp_path):
    first = generate(pki, tmp_path / "state")
    again = generate(pki, tmp_path / "state")
    for sid in ("alice", "bob_li"):
        assert kinds(first[sid], "Secret")["ssh"] == kinds(again[sid], "Secret")["ssh"]
        assert kinds(first[sid], "Secret")["shadow"] == kinds(again[sid], "Secret")["shadow"]
    assert (tmp_path / "state" / "alice" / "ssh" / "ssh_host_ed25519_key").stat().st_mode & 0o077 == 0
    other = generate(pki, tmp_path / "elsewhere")["alice"]
    assert secret(other, "ssh", "ssh_host_ed25519_key") != secret(first["alice"], "ssh", "ssh_host_ed25519_key")


def test_the_overlay_merges_as_compose_merges_override_files():
    base = {"services": {"client": {"command": ["sleep", "infinity"], "ports": ["1:1"], "environment": {"A": "1"},
                                    "volumes": ["./workspace:/w", "old:/etc/x"]}}}
    merged = k8s.merge(base, {"services": {"client": {"command": ["sshd"], "ports": ["2:2"], "environment": {"B": "2"},
                                                      "volumes": ["/new:/etc/x:ro"]}}})
    assert merged["services"]["client"] == {"command": ["sshd"], "ports": ["1:1", "2:2"],
                                            "environment": {"A": "1", "B": "2"},
                                            "volumes": ["./workspace:/w", "/new:/etc/x:ro"]}
    assert base["services"]["client"]["command"] == ["sleep", "infinity"]         # the original is left alone
    with pytest.raises(k8s.K8sError, match="the override names host nobody, which compose.yaml has not"):
        k8s.merge(base, {"services": {"nobody": {"command": ["x"]}}})


def test_a_bind_mount_outside_the_students_folder_is_still_refused(pki, tmp_path):
    compose = copy.deepcopy(COMPOSE)
    compose["services"]["client"]["volumes"].append(f"{tmp_path}:/mnt")       # the folder above the student's
    with pytest.raises(k8s.K8sError, match=r"host client: volume .*: only named volumes and ./workspace"):
        generate(pki, tmp_path / "state", compose)


def test_cards_give_each_student_user_password_and_the_nodeport(pki, tmp_path):
    state = tmp_path / "state"
    manifests = generate(pki, state)
    text, page = k8s.write_cards(manifests, [ALICE, BOB], state, k8s.Options())
    cards = text.read_text()
    password = secret(manifests["alice"], "accounts", "STUDENT_PASSWORD")
    assert "socklab lab of Alice Wang (alice)" in cards and password in cards
    assert "ssh -p NODEPORT student@NODE" in cards and "kubectl get service -n socklab-<id> client-ssh" in cards
    assert "(your SSH key from the roster)" in cards
    assert text.stat().st_mode & 0o077 == 0 and page.stat().st_mode & 0o077 == 0
    assert password in page.read_text() and "NODEPORT" in page.read_text()
    text, _page = k8s.write_cards(manifests, [ALICE], state,
                                  k8s.Options(ssh_service="LoadBalancer", ssh_host="lab.example.edu"))
    assert "ssh -p 2222 student@lab.example.edu" in text.read_text() and "kubectl" not in text.read_text()


# --------------------------------------------------------------------------- accounts

def test_passwords_are_per_student_kept_and_never_compose_defaults(pki, tmp_path):
    first = generate(pki, tmp_path / "state")
    again = generate(pki, tmp_path / "state")
    for sid in ("alice", "bob_li"):
        for key in ("FTP_PASSWORD", "NEWS_PASSWORD", "MAIL_ACCOUNTS"):
            assert secret(first[sid], "accounts", key) == secret(again[sid], "accounts", key)
        assert "password" not in secret(first[sid], "accounts", "FTP_PASSWORD")
        assert (tmp_path / "state" / sid / k8s.KEPT).stat().st_mode & 0o077 == 0
    assert secret(first["alice"], "accounts", "FTP_PASSWORD") != secret(first["bob_li"], "accounts", "FTP_PASSWORD")
    mail = secret(first["alice"], "accounts", "MAIL_ACCOUNTS").split()
    assert [m.split(":")[0] for m in mail] == ["alice", "bob"]
    assert "STUDENT_PASSWORD" in kinds(first["alice"], "Secret")["accounts"]["data"]      # no key: a password
    assert secret(first["bob_li"], "accounts", "SSH_AUTHORIZED_KEYS") == BOB.ssh_key + "\n"
    assert "STUDENT_PASSWORD" not in kinds(first["bob_li"], "Secret")["accounts"]["data"]
    fresh = generate(pki, tmp_path / "elsewhere")
    assert secret(fresh["alice"], "accounts", "FTP_PASSWORD") != secret(first["alice"], "accounts", "FTP_PASSWORD")


def test_every_password_is_typed_from_the_card_and_never_read_as_an_option(manifests):
    """The students type these (``mail-send -u alice -p PASSWORD``): one that began with a dash
    was an option to every client's argument parser."""
    card = re.compile(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}")
    for sid, objects in manifests.items():
        data = kinds(objects, "Secret")["accounts"]["data"]
        passwords = {key: secret(objects, "accounts", key) for key in data if key.endswith("PASSWORD")}
        passwords |= dict(entry.split(":", 1) for entry in secret(objects, "accounts", "MAIL_ACCOUNTS").split())
        assert len(passwords) >= 4, (sid, sorted(passwords))
        for key, password in passwords.items():
            assert card.fullmatch(password), (sid, key, password)


def test_any_password_compose_yaml_gives_becomes_the_students_own(pki, tmp_path):
    compose = copy.deepcopy(COMPOSE)
    compose["services"]["client"]["environment"]["SSH_PASSWORD"] = "password"
    compose["services"]["news"]["environment"]["NEWS_USER"] = "reader"
    objects = generate(pki, tmp_path, compose)["alice"]
    assert secret(objects, "accounts", "SSH_PASSWORD") not in ("", "password")
    assert secret(objects, "accounts", "NEWS_USER") == "reader"
    env = {v["name"]: v for v in containers(objects)["client"][0]["env"]}
    assert env["SSH_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "accounts", "key": "SSH_PASSWORD"}


def test_passwords_reach_the_hosts_from_the_secret(manifests):
    for host, (c, _pod) in containers(manifests["alice"]).items():
        for var in c.get("env", []):
            if "PASSWORD" in var["name"] or var["name"] == "MAIL_ACCOUNTS":
                assert var["valueFrom"]["secretKeyRef"] == {"name": "accounts", "key": var["name"]}, host
                assert "value" not in var


# --------------------------------------------------------------------------- what the generator refuses

@pytest.mark.parametrize("host, key, value", [
    ("ftp", "devices", ["/dev/fuse"]),
    ("client", "privileged", True),
    ("mail", "network_mode", "host"),
    ("news", "ulimits", {"nofile": 1024}),
])
def test_an_unknown_compose_key_is_an_error_naming_key_and_host(pki, tmp_path, host, key, value):
    compose = copy.deepcopy(COMPOSE)
    compose["services"][host][key] = value
    with pytest.raises(k8s.K8sError, match=rf"host {host}: key '{key}' has no Kubernetes translation"):
        generate(pki, tmp_path, compose)


@pytest.mark.parametrize("change, message", [
    (lambda c: c["services"]["ftp"]["healthcheck"].update(start_timeout="5s"),
     r"host ftp: healthcheck: key 'start_timeout' has no Kubernetes translation"),
    (lambda c: c.update(configs={"x": {}}), r"top-level key 'configs'"),
    (lambda c: c["volumes"].update(ftp={"driver": "nfs"}), r"volumes ftp: key 'driver'"),
    (lambda c: c["services"]["news"].update(volumes=["/srv/news:/var/spool/news"]),
     r"host news: volume '/srv/news:/var/spool/news': only named volumes and ./workspace"),
    (lambda c: c["services"]["news"].update(restart="no"), r"host news: restart 'no'"),
    (lambda c: c["services"]["news"].update(user="root"), r"host news: user 'root' is not created by"),
    (lambda c: c["services"]["news"].update(user="0"), r"host news: runs as root"),
    (lambda c: c["services"]["news"].pop("user"), r"host news: no user"),
    (lambda c: c["services"]["news"].pop("cap_drop"), r"host news: compose.yaml drops no capabilities"),
    (lambda c: c["services"]["news"].update(security_opt=["seccomp:unconfined"]), r"security_opt 'seccomp:unconfined'"),
    (lambda c: c["services"]["news"].update(mem_limit="lots"), r"mem_limit: 'lots' is not a size"),
    (lambda c: c["services"]["news"].update(networks=["lab", "other"]), r"on 2 networks"),
])
def test_what_has_no_meaning_in_a_cluster_is_refused(pki, tmp_path, change, message):
    compose = copy.deepcopy(COMPOSE)
    change(compose)
    with pytest.raises(k8s.K8sError, match=message):
        generate(pki, tmp_path, compose)


def test_keys_compose_yaml_may_grow_are_understood(pki, tmp_path):
    """Limits on the client, an sshd port, slower healthchecks with a fast start, expose."""
    compose = copy.deepcopy(COMPOSE)
    client = compose["services"]["client"]
    client.update(cpus="1.5", mem_limit="1g", mem_reservation="64m", pids_limit=512,
                  ports=["127.0.0.1:20022:2222/tcp"], expose=["9999"], depends_on=["ftp"],
                  stop_grace_period="1m30s",
                  healthcheck={"test": ["CMD-SHELL", "lab-probe tcp 2222"], "interval": "30s", "timeout": "3s",
                               "retries": 3, "start_period": "10s", "start_interval": "500ms"})
    compose["services"]["tcp-server"]["healthcheck"]["interval"] = "60s"
    compose["services"]["student-server"].update(cpu_shares=256, memswap_limit="256m")
    objects = generate(pki, tmp_path, compose)["alice"]
    c, pod = containers(objects)["client"]
    assert c["resources"]["limits"] == {"cpu": "1500m", "memory": "1Gi"}
    assert c["resources"]["requests"]["memory"] == "64Mi"
    assert c["livenessProbe"]["exec"]["command"] == ["sh", "-c", "lab-probe tcp 2222"]
    assert c["livenessProbe"]["periodSeconds"] == 30 and c["startupProbe"]["periodSeconds"] == 1
    assert c["startupProbe"]["failureThreshold"] == 13
    assert pod["terminationGracePeriodSeconds"] == 90
    assert {(p["containerPort"], p["protocol"]) for p in c["ports"]} == {(2222, "TCP"), (9999, "TCP")}
    assert containers(objects)["tcp-server"][0]["readinessProbe"]["periodSeconds"] == 60
    assert containers(objects)["student-server"][0]["resources"]["requests"]["cpu"] == "250m"     # 256/1024 CPU
    for o in objects:
        kubernetes_validate.validate(o, KUBERNETES, strict=True)


def test_every_key_compose_yaml_uses_is_in_the_table():
    used = {key for service in COMPOSE["services"].values() for key in service}
    assert used <= set(k8s.SERVICE_KEYS)


# --------------------------------------------------------------------------- the command line

def test_command_line_errors_are_one_line(tmp_path, capsys):
    roster = tmp_path / "class.csv"
    roster.write_text("id,name\nAlice!,Alice\n")
    assert k8s.main([str(roster), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 2" in err and "Traceback" not in err
    assert k8s.main([str(tmp_path / "missing.csv")]) == 1
    assert "no such roster file" in capsys.readouterr().err


def test_stdout_is_one_stream_for_kubectl(tmp_path, capsys, monkeypatch, pki):
    roster = tmp_path / "class.csv"
    roster.write_text("alice,Alice Wang\n")
    monkeypatch.setattr(k8s, "PKI", pki)
    assert k8s.main([str(roster), "--stdout", "--out", str(tmp_path / "state"), "--image", "reg.example/lab:1"]) == 0
    objects = list(yaml.safe_load_all(capsys.readouterr().out))
    assert objects[0]["kind"] == "Namespace" and len(objects) == len(generate(pki, tmp_path / "s2")["alice"])
    images = {c["image"] for o in objects if o["kind"] == "Deployment"
              for c in o["spec"]["template"]["spec"]["containers"]}
    assert images == {"reg.example/lab:1"}
    assert (tmp_path / "state" / "alice" / k8s.KEPT).exists()       # passwords kept for the next run


def test_interpolation_follows_compose():
    env = {"SET": "x", "EMPTY": ""}
    assert k8s.interpolate("${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} $$ $SET ${UNSET}", env) == "x d  d $ x "
    with pytest.raises(k8s.K8sError, match=r"needs \$EMPTY: give it"):
        k8s.interpolate("${EMPTY:?give it}", env)
