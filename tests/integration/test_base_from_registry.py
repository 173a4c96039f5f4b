"""The base image's other road: ``FROM debian:bookworm-slim`` (images/base/Dockerfile).

tools/lab.py builds socklab/base:bookworm in one of two ways from one package list
(images/base/packages.txt): with mmdebstrap and ``docker import`` where no registry answers,
or with images/base/Dockerfile on top of Docker Hub's ``debian:bookworm-slim`` where one
does.  A machine without a registry never runs the Dockerfile, so this test gives it a
``debian:bookworm-slim`` made here:

1. mmdebstrap makes a Debian bookworm ``minbase`` root file system -- the variant the slim
   image is made from -- and gives it what makes the slim image *slim* and Docker-friendly:
   dpkg leaves out documentation, manual pages and translations (``/etc/dpkg/dpkg.cfg.d``),
   apt keeps no caches and fetches no translations, and ``policy-rc.d`` stops packages
   from starting their services while an image is built.  ``docker import`` makes it an
   image under a throw-away tag.  A real ``debian:bookworm-slim`` already on the machine is
   used instead, as it is.
2. tools/lab.py's ``build_base`` runs the Dockerfile (``SOCKLAB_BASE_FROM=registry``) into
   a throw-away image, FROM the stand-in (``SOCKLAB_DEBIAN_IMAGE``, the Dockerfile's
   ``DEBIAN_IMAGE`` argument): no image is ever tagged ``debian:bookworm-slim`` here, so a
   ``make lab`` elsewhere on this engine, or another test running beside this one, never
   takes the Dockerfile's road by mistake.  The lab's usual base (``SOCKLAB_BASE_FROM=mmdebstrap``) is reused
   when it is up to date, else built as ``make lab`` builds it, under a throw-away tag.
3. The two bases must hold the same installed Debian packages, every one of packages.txt
   among them; a package found in one only fails the test unless :data:`MAY_DIFFER`
   explains it.  The lab image is then built on the Dockerfile's base and the Python
   libraries and programs the lab's servers use must work there.

What is made here is kept for the next run, under ``socklab-test/`` names that say what it
was made from: the stand-in (named after its recipe below), the Dockerfile's base (after
the stand-in's image ID; tools/lab.py rebuilds it when images/base changes) and the lab
image on it (Docker's layer cache rebuilds what the code changed).  So the road is built
once per change of its inputs, and every run checks the images it gives.  Older
``socklab-test/`` images are removed when newer ones are made; ``SOCKLAB_TEST_FRESH=1``
makes everything anew.

Time: about 2-5 minutes on two cores when nothing is kept -- the stand-in (~45 s), the
Dockerfile's apt-get run (~1-3 min, packages downloaded from deb.debian.org), the lab image
on it (~30-60 s), plus 2-3 min for the mmdebstrap base when it is not built yet; a few
seconds when everything is kept.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from labharness import ROOT, need_docker
from tools import lab as labtool

SLIM = "debian:bookworm-slim"
THROWAWAY = "socklab-test/" + uuid.uuid4().hex[:12]       # prefix of an image made for this run only
KEPT = "socklab-test/registry-road"                        # the repository of what is kept between runs
FRESH = os.environ.get("SOCKLAB_TEST_FRESH", "") not in ("", "0")

# Packages allowed in one base and not the other, each with the reason.  None is known:
# both bases start from bookworm's minbase and install packages.txt without Recommends.
MAY_DIFFER: dict[str, str] = {}

# What the slim images leave out (debuerreotype's "slimify": dpkg never unpacks these)
# and keep (the copyright files, locale.alias), as dpkg configuration in the image.
SLIM_DPKG_CFG = """\
# like debian:*-slim: no documentation, manual pages or translations
path-exclude /usr/share/doc/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
path-include /usr/share/doc/*/copyright
path-include /usr/share/locale/locale.alias
"""
# Debian's Docker images: no package caches, no translated package lists, no services
# started by package scripts during `docker build`.
DOCKER_APT_CONF = """\
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
"""
POLICY_RC_D = "#!/bin/sh\n# no service starts while an image is built\nexit 101\n"

# The libraries socklab's hosts import (Debian's packages) and the standard modules the chapter
# teaches; then socklab itself, as installed into the lab image.
PYTHON_SMOKE = (
    "import OpenSSL, aiosmtpd.controller, dpkt, pyftpdlib.servers, setuptools;"
    "import ftplib, imaplib, nntplib, poplib, smtplib, socketserver, ssl;"
    "import socklab, socklab.i18n;"
    "assert (socklab.i18n.LOCALE_DIR / 'zh_CN/LC_MESSAGES/socklab.mo').is_file(), 'no Chinese catalog';"
    "print('ok', OpenSSL.__version__, dpkt.__version__)"
)
PROGRAMS = [["dovecot", "--version"], ["msgfmt", "--version"], ["tini", "--version"],
            ["rsvg-convert", "--version"], ["nft", "--version"], ["tcpdump", "--version"],
            ["swaks", "--version"], ["curl", "--version"], ["openssl", "version"]]


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"`docker {' '.join(args)}` failed:\n{res.stdout[-3000:]}{res.stderr[-3000:]}")
    return res


def image_id(ref: str) -> str | None:
    res = docker("image", "inspect", "--format", "{{.Id}}", ref, check=False)
    return res.stdout.strip() if res.returncode == 0 else None


def installed(image: str) -> set[str]:
    """The packages dpkg has installed in *image* (status ``ii``)."""
    out = docker("run", "--rm", "--network", "none", "--entrypoint", "dpkg-query", image,
                 "-W", "-f", "${db:Status-Abbrev} ${Package}\n").stdout
    return {line.split()[1] for line in out.splitlines() if line.startswith("ii ")}


def make_slim_stand_in(tag: str) -> None:
    """A bookworm minbase made with mmdebstrap and set up as the slim image is, imported as *tag*."""
    if not shutil.which("mmdebstrap"):
        pytest.fail("this test needs mmdebstrap (apt-get install mmdebstrap)", pytrace=False)
    with tempfile.TemporaryDirectory(prefix="socklab-slim-") as tmp:
        root = Path(tmp) / "root"
        res = subprocess.run(["mmdebstrap", "--variant=minbase", "--quiet", "--mode=root",
                              "bookworm", str(root), *labtool.DEBIAN_MIRRORS],
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, f"mmdebstrap failed:\n{res.stdout[-3000:]}{res.stderr[-3000:]}"
        (root / "etc/dpkg/dpkg.cfg.d/docker").write_text(SLIM_DPKG_CFG)
        (root / "etc/apt/apt.conf.d/docker-clean").write_text(DOCKER_APT_CONF)
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text(POLICY_RC_D)
        policy.chmod(0o755)
        subprocess.run(["rm", "-rf", *map(str, root.glob("var/lib/apt/lists/*")),
                        *map(str, root.glob("var/cache/apt/*.bin"))], check=True)
        tar = subprocess.Popen(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-c", "."],
                               stdout=subprocess.PIPE)
        imported = subprocess.run(
            ["docker", "import", "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "--change", 'CMD ["bash"]', "-", tag], stdin=tar.stdout, capture_output=True, text=True, timeout=300)
        tar.stdout.close()
        assert tar.wait() == 0 and imported.returncode == 0, f"docker import failed:\n{imported.stderr}"


@pytest.fixture(scope="module")
def lab_tool():
    need_docker("the registry road's tests")
    return labtool


def made_by_mmdebstrap(image: str) -> bool:
    """Manual pages and no policy-rc.d: not made FROM a slim image (as `make lab` does while
    some ``debian:bookworm-slim`` is tagged on this engine)."""
    return docker("run", "--rm", "--network", "none", image, "sh", "-c",
                  "test -d /usr/share/man/man1 && ! test -e /usr/sbin/policy-rc.d", check=False).returncode == 0


@pytest.fixture(scope="module")
def mmdebstrap_base(lab_tool):
    """The base as `make lab` builds it where no registry answers, by image ID.

    The lab's socklab/base:bookworm when it was made by mmdebstrap from this checkout's
    package list; else one built as `make lab` builds it (``SOCKLAB_BASE_FROM=mmdebstrap``)
    under a throw-away tag, leaving the shared name to `make lab`.  Either way before any
    ``debian:bookworm-slim`` stand-in exists.
    """
    want = lab_tool.digest(["images/base", "images/base/Dockerfile"])
    found = image_id(lab_tool.BASE_IMAGE)
    if found and lab_tool.image_label(found, "socklab.base") == want and made_by_mmdebstrap(found):
        yield found
        return
    image = f"{THROWAWAY}-mmdebstrap"
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SOCKLAB_BASE_FROM", "mmdebstrap")
            try:
                lab_tool.build_base(image)
            except lab_tool.LabError as exc:
                pytest.fail(f"the mmdebstrap base did not build:\n{exc}", pytrace=False)
        built = image_id(image)
        assert made_by_mmdebstrap(built), f"{image} has no manual pages or has policy-rc.d"
        yield built
    finally:
        docker("rmi", image, check=False)


def recipe() -> str:
    """What the stand-in is made from, as a short hash: a change of any of it makes a new one."""
    text = "\0".join([SLIM_DPKG_CFG, DOCKER_APT_CONF, POLICY_RC_D, *labtool.DEBIAN_MIRRORS, "minbase"])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def kept(tag: str, make, *, every_run: bool = False) -> str:
    """``KEPT:tag``, made by *make(name)* when it is not there yet (or on *every_run*, for makers
    that are quick when nothing changed); older kept images of its kind (the part of *tag*
    before its first ``-``) are removed."""
    name = f"{KEPT}:{tag}"
    if every_run or FRESH or not image_id(name):
        before = image_id(name)
        make(name)
        if before and before != image_id(name):     # the image the name left: nameless now, of no use
            docker("rmi", before, check=False)
    kind = tag.split("-")[0]
    for old in docker("images", "--format", "{{.Repository}}:{{.Tag}}", KEPT).stdout.split():
        if old != name and old.split(":", 1)[1].split("-")[0] == kind:
            docker("rmi", old, check=False)
    return name


@pytest.fixture(scope="module")
def slim(mmdebstrap_base):
    """The name of a bookworm-slim: the real ``debian:bookworm-slim`` if present (untouched),
    else a stand-in made here (and kept: see the module's docstring)."""
    if image_id(SLIM):
        return SLIM
    return kept(f"slim-{recipe()}", make_slim_stand_in)


@pytest.fixture(scope="module")
def registry_base(lab_tool, slim):
    """The base built by images/base/Dockerfile FROM *slim*, kept under a name made of *slim*'s
    image ID (tools/lab.py's ``build_base`` builds it again when images/base has changed)."""
    image = f"{KEPT}:base-{image_id(slim).split(':')[-1][:12]}"
    started = time.monotonic()

    def build(name: str) -> None:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SOCKLAB_BASE_FROM", "registry")
            mp.setenv("SOCKLAB_DEBIAN_IMAGE", slim)
            try:
                lab_tool.build_base(name)
            except lab_tool.LabError as exc:
                pytest.fail(f"the Dockerfile's base did not build:\n{exc}", pytrace=False)
    if FRESH:
        docker("rmi", image, check=False)
    kept(image.split(":", 1)[1], build, every_run=True)     # nothing to do when its label matches images/base
    print(f"images/base/Dockerfile FROM {slim}: {time.monotonic() - started:.0f} s")
    return image


@pytest.fixture(scope="module")
def registry_lab(lab_tool, registry_base):
    """The lab image built on the Dockerfile's base (as tools/lab.py builds it), kept: Docker's
    layer cache rebuilds only what changed since the last run."""
    with lab_tool.build_lock():                 # pki/ is made once, also beside parallel labs
        lab_tool.build_pki(lab_tool.services())

    def build(name: str) -> None:
        lab_tool.docker_build(["-f", "images/lab/Dockerfile", "--build-arg", f"BASE_IMAGE={registry_base}",
                               "-t", name, "."])
    image = f"{KEPT}:lab-{registry_base.rsplit('-', 1)[-1]}"
    return kept(image.split(":", 1)[1], build, every_run=True)  # the cache: quick when nothing changed


def test_the_stand_in_is_slim_where_the_dockerfile_can_tell(slim):
    """What the Dockerfile meets is bookworm with slim's dpkg settings and policy-rc.d."""
    res = docker("run", "--rm", "--network", "none", slim, "sh", "-c",
                 "cat /etc/debian_version; grep -h '^path-exclude' /etc/dpkg/dpkg.cfg.d/*; "
                 "test -x /usr/sbin/policy-rc.d && echo policy-rc.d")
    assert res.stdout.startswith("12."), res.stdout
    assert "path-exclude /usr/share/doc/*" in res.stdout and "policy-rc.d" in res.stdout, res.stdout


def test_both_bases_hold_the_same_packages(mmdebstrap_base, registry_base):
    from_registry, from_mmdebstrap = installed(registry_base), installed(mmdebstrap_base)
    wanted = set(labtool.package_list())
    assert wanted - from_registry == set(), "packages.txt, missing from the Dockerfile's base"
    assert wanted - from_mmdebstrap == set(), "packages.txt, missing from the mmdebstrap base"
    only_registry, only_mmdebstrap = from_registry - from_mmdebstrap, from_mmdebstrap - from_registry
    print(f"{len(from_registry)} packages from the Dockerfile, {len(from_mmdebstrap)} from mmdebstrap; "
          f"only the Dockerfile's: {sorted(only_registry)}; only mmdebstrap's: {sorted(only_mmdebstrap)}")
    unexplained = (only_registry | only_mmdebstrap) - set(MAY_DIFFER)
    assert not unexplained, (f"the two bases differ -- only in the Dockerfile's: {sorted(only_registry)}, "
                             f"only in mmdebstrap's: {sorted(only_mmdebstrap)}")


def test_the_dockerfile_base_runs_the_lab(registry_lab):
    res = docker("run", "--rm", "--network", "none", "--user", "socklab", registry_lab,
                 "python3", "-c", PYTHON_SMOKE)
    assert res.stdout.startswith("ok "), res.stdout + res.stderr
    for program in PROGRAMS:
        # tcpdump's file capabilities need them in the bounding set, as the client host has them
        res = docker("run", "--rm", "--network", "none", "--cap-add", "NET_RAW", "--cap-add", "NET_ADMIN",
                     "--entrypoint", program[0], registry_lab, *program[1:], check=False)
        assert res.returncode == 0, f"{' '.join(program)} in the Dockerfile's base: {res.stdout}{res.stderr}"
