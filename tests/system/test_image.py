"""The container image (Dockerfile), run: its entry point builds the seed index on its
volume and serves; /ready and /search answer from outside it. Runs the image `make image`
built (localhost/recommender:latest) with buildah (chroot isolation, the host's network);
skipped, saying why, where there is no buildah or no image: building one takes minutes
and a package registry, so the suite doesn't build it itself (docs/operations.md,
"A container image")."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request

import pytest

from tests.ops import free_port

IMAGE = os.environ.get("RECOMMENDER_TEST_IMAGE", "localhost/recommender:latest")
BUILDAH = shutil.which("buildah")
pytestmark = pytest.mark.server


def _image_exists() -> bool:
    if BUILDAH is None:
        return False
    return subprocess.run([BUILDAH, "inspect", "--type", "image", IMAGE],
                          capture_output=True, timeout=60).returncode == 0


@pytest.mark.skipif(BUILDAH is None, reason="no buildah: apt-get install buildah debootstrap")
def test_the_image_builds_its_index_and_answers():
    if not _image_exists():
        pytest.skip(f"no image {IMAGE}: build it with `make image` (deploy/debian-base.sh "
                    "makes a base where no registry can be reached)")
    config = json.loads(subprocess.run([BUILDAH, "inspect", "--type", "image", IMAGE],
                                       capture_output=True, text=True, check=True,
                                       timeout=60).stdout)["Docker"]["config"]
    assert "/ready" in " ".join(config["Healthcheck"]["Test"])  # docker format keeps it
    assert config["User"] == "recommender"
    container = subprocess.run([BUILDAH, "from", IMAGE], capture_output=True, text=True,
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
