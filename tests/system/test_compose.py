"""compose.yaml run as an operator runs it (podman-compose, which reads the same file as
docker compose): PostgreSQL, the one-off build job on a catalog of one's own, two replicas.
Both replicas serve the index the job built, and an event sent to one is read back from
the other (one database). Here there is no image registry: the service's image is built by
`make image` (tests/system/images.py) and PostgreSQL's is a stand-in made from Debian's
package (tests/system/postgres_image), both named through the file's image variables.

podman 4.3 (Debian 12) runs no health checks without systemd, so the test runs
PostgreSQL's check itself (`podman healthcheck run`) before the job, where compose waits
for it; and it runs containers with runc and cgroupfs, which this machine's sandbox
allows. Skipped, saying why, where podman, podman-compose or a container can't run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS
from tests.ops import call, free_port
from tests.system.images import BASE, run

PODMAN = shutil.which("podman")
COMPOSE = Path(sys.executable).with_name("podman-compose")
KEY = "compose-test-key"
pytestmark = [pytest.mark.server, pytest.mark.image]
# what a container in this sandbox needs: no rlimits of podman's own, runc, cgroupfs
CONTAINERS_CONF = """[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
"""


@pytest.fixture
def compose(tmp_path: Path, image: str, postgres_image: str
            ) -> Iterator[tuple[Callable[..., str], str, tuple[int, int]]]:
    """``podman-compose -p PROJECT ...`` in a folder holding compose.yaml and ./catalog;
    everything it started taken down, volumes too, at the end."""
    if PODMAN is None or not COMPOSE.exists():
        pytest.skip("no podman or podman-compose: apt-get install podman runc (make test "
                    "does, as root); podman-compose is a dev dependency")
    (tmp_path / "containers.conf").write_text(CONTAINERS_CONF)
    shutil.copy(ROOT / "compose.yaml", tmp_path / "compose.yaml")
    (tmp_path / "catalog").mkdir()
    shutil.copy(SEEDS, tmp_path / "catalog" / "films.jsonl")
    ports = free_port(), free_port()
    env = {"CONTAINERS_CONF": str(tmp_path / "containers.conf"),
           "RECOMMENDER_IMAGE": image, "POSTGRES_IMAGE": postgres_image,
           "REPLICA_1_PORT": str(ports[0]), "REPLICA_2_PORT": str(ports[1]),
           "RECOMMENDER_API_KEYS": KEY}
    probe = subprocess.run([PODMAN, "run", "--rm", "--network", "host", BASE, "true"],
                           capture_output=True, text=True, timeout=120,
                           env={**os.environ, **env})
    if probe.returncode != 0:
        pytest.skip(f"podman can't run a container here: {probe.stderr.strip()[-300:]}")
    project = f"rectest{ports[0]}"

    def compose_run(*args: str, timeout: int = 600) -> str:
        return run([str(COMPOSE), "-p", project, *args], timeout=timeout, cwd=tmp_path,
                   **env)

    try:
        yield compose_run, project, ports
    finally:
        subprocess.run([str(COMPOSE), "-p", project, "--profile", "build", "down", "-v",
                        "-t", "5"], capture_output=True, timeout=300, cwd=tmp_path,
                       env={**os.environ, **env})


def _until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {seconds:.0f} s"
        time.sleep(1)


def _answers(url: str) -> bool:
    try:
        return call(url, timeout=5)[0] == 200
    except OSError:
        return False


@pytest.mark.timeout(3600)  # a first run builds both images
def test_compose_builds_the_index_and_two_replicas_share_one_database(compose):
    compose_run, project, ports = compose
    compose_run("up", "-d", "postgres")
    _until(lambda: subprocess.run([PODMAN or "podman", "healthcheck", "run",
                                   f"{project}_postgres_1"], capture_output=True,
                                  timeout=60).returncode == 0, 120, "PostgreSQL healthy")
    built = compose_run("--profile", "build", "run", "--rm", "build")
    assert "built /var/lib/recommender/index/versions/" in built
    assert "films      8" in built
    compose_run("up", "-d", "replica-1", "replica-2")
    one, two = (f"http://127.0.0.1:{port}" for port in ports)
    for base in (one, two):
        _until(lambda base=base: _answers(base + "/ready"), 300, f"{base} ready")
    auth = {"Authorization": f"Bearer {KEY}"}
    status, found = call(two + "/search?q=bokser&k=1", headers=auth)
    assert status == 200, found
    assert found["results"][0]["id"] == "rocky-1976"
    status, sent = call(one + "/events", "POST", {"events": [
        {"user": "compose-viewer", "film": "rocky-1976", "type": "like"}]}, headers=auth)
    assert status == 200 and sent["accepted"] == 1, sent
    status, history = call(two + "/users/compose-viewer/history", headers=auth)
    assert status == 200, history
    assert [e["film"]["id"] for e in history["events"]] == ["rocky-1976"]
