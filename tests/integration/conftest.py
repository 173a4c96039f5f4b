"""Integration tests: the whole lab of compose.yaml, started once per test session.

Every test here talks to real servers across the lab network, usually by running a client
command inside the ``client`` container.  Without a Docker engine these tests fail -- they
are never skipped, because a skipped check is a check that cannot fail.
"""

import os
import subprocess

import pytest

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")   # Ryuk's image cannot be pulled here

from topology import Topology  # noqa: E402


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def lab():
    probe = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail("the integration tests need a Docker engine and `docker info` failed:\n"
                    + probe.stderr.strip() + "\nStart dockerd and run the tests again.", pytrace=False)
    with Topology() as topology:
        yield topology
