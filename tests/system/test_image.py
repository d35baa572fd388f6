"""The container image (Dockerfile), built and run: `make image` builds it with buildah
(chroot isolation, the host's network) from a copy of the working tree, on a base that
deploy/debian-base.sh makes from Debian's packages (no image registry is reachable here);
its entry point builds the seed index on its volume and serves; /ready and /search answer
from outside it. Skipped, saying why, where there is no buildah or debootstrap (`make test`
installs them where it can) or too little disk for the build."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request

import pytest

from tests.ops import free_port
from tests.system.images import BUILDAH

pytestmark = [pytest.mark.server, pytest.mark.image]


@pytest.mark.timeout(3600)  # a first build: the base from Debian, the venv from PyPI
def test_the_image_builds_its_index_and_answers(image):
    config = json.loads(subprocess.run([BUILDAH, "inspect", "--type", "image", image],
                                       capture_output=True, text=True, check=True,
                                       timeout=60).stdout)["Docker"]["config"]
    assert "/ready" in " ".join(config["Healthcheck"]["Test"])  # docker format keeps it
    assert config["User"] == "recommender"
    container = subprocess.run([BUILDAH, "from", image], capture_output=True, text=True,
                               check=True, timeout=120).stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [BUILDAH, "run", "--isolation", "chroot", "--network", "host", container, "--",
         "/opt/recommender/bin/entrypoint.sh", "serve", "--port", str(port),
         "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, ready = time.monotonic() + 300, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(base + "/ready", timeout=5) as answer:
                    ready = answer.status
                    break
            except OSError:
                time.sleep(1)
        assert ready == 200, server.stdout.read() if server.poll() is not None else "not ready"
        with urllib.request.urlopen(base + "/search?q=bokser&k=1", timeout=30) as answer:
            assert b"rocky" in answer.read()
        whoami = subprocess.run([BUILDAH, "run", "--isolation", "chroot", container, "--",
                                 "id", "-un"], capture_output=True, text=True, timeout=60)
        assert whoami.stdout.strip() == "recommender"  # not root
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        subprocess.run(["pkill", "-f", f"--port {port}"], capture_output=True)
        subprocess.run([BUILDAH, "rm", container], capture_output=True, timeout=120)
