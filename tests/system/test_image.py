"""The container image (Dockerfile), built and run: `make image` builds it with buildah
(chroot isolation, the host's network) from a copy of the working tree, on a base that
deploy/debian-base.sh makes from Debian's packages (no image registry is reachable here);
its entry point builds the seed index on its volume and serves; /ready and /search answer
from outside it. Skipped, saying why, where there is no buildah or debootstrap (`make test`
installs them where it can) or too little disk for the build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.ops import free_port

IMAGE = os.environ.get("RECOMMENDER_TEST_IMAGE", "localhost/recommender:test")
BASE = os.environ.get("RECOMMENDER_TEST_IMAGE_BASE", "localhost/debian-python:bookworm")
BUILDAH = shutil.which("buildah")
NEEDS_GB = 8  # the base, the build stage's venv (torch) and the image: ~5 GB, seen here
pytestmark = [pytest.mark.server, pytest.mark.image]


def _exists(image: str) -> bool:
    return subprocess.run([BUILDAH or "buildah", "inspect", "--type", "image", image],
                          capture_output=True, timeout=60).returncode == 0


def _run(command: list[str], timeout: int, **env: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **env})
    assert done.returncode == 0, f"{' '.join(command)}:\n{(done.stdout + done.stderr)[-4000:]}"


def _context(folder: Path) -> Path:
    """The files the Dockerfile copies, as git has them (no venv, no built index), with
    torch's CPU wheel and the CA bundle pip trusts here put in deploy/wheels."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           check=True, timeout=60).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, folder / name)
    wheels = folder / "deploy" / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest",
          str(wheels), "torch==2.13.0"], timeout=900)
    if not any("+cpu" in wheel.name for wheel in wheels.glob("torch-*.whl")):
        pytest.skip("no CPU build of torch 2.13.0 to put in the image here (PyPI's is the "
                    "CUDA one, GBs): TORCH_INDEX needs download.pytorch.org")
    bundle = os.environ.get("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
    if Path(bundle).is_file():
        shutil.copy(bundle, wheels / "ca.crt")
    return folder


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> str:
    """``make image`` of this tree; its layers are cached, so a second run takes seconds."""
    if BUILDAH is None:
        pytest.skip("no buildah: apt-get install buildah debootstrap (make test does, as root)")
    free = shutil.disk_usage(tmp_path_factory.getbasetemp()).free / 2**30
    if free < NEEDS_GB:
        pytest.skip(f"{free:.1f} GB free; building the image needs about {NEEDS_GB} GB")
    if not _exists(BASE):
        if shutil.which("debootstrap") is None:
            pytest.skip(f"no base image {BASE} and no debootstrap to make one")
        _run(["sh", str(ROOT / "deploy" / "debian-base.sh")], timeout=1200)
    context = _context(tmp_path_factory.mktemp("image-context"))
    _run(["make", "-C", str(ROOT), "--no-print-directory", "image", f"IMAGE={IMAGE}",
          f"IMAGE_BASE={BASE}", "TORCH_INDEX=", f"IMAGE_CONTEXT={context}"], timeout=2400)
    return IMAGE


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
