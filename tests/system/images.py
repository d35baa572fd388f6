"""Container images for the system tests, built here as an operator would: `make image`
(buildah, chroot isolation) from a copy of the tracked files, on the base that
deploy/debian-base.sh makes from Debian's packages (no image registry is reachable here).
Each step says why it can't run where it can't (a skip), and fails loudly where it ran
and broke."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

IMAGE = os.environ.get("RECOMMENDER_TEST_IMAGE", "localhost/recommender:test")
BASE = os.environ.get("RECOMMENDER_TEST_IMAGE_BASE", "localhost/debian-python:bookworm")
POSTGRES_IMAGE = "localhost/postgres-debian:15"
BUILDAH = shutil.which("buildah")
NEEDS_GB = 8  # the base, the build stage's venv (torch) and the image: ~5 GB, seen here


def exists(image: str) -> bool:
    return subprocess.run([BUILDAH or "buildah", "inspect", "--type", "image", image],
                          capture_output=True, timeout=60).returncode == 0


def run(command: list[str], timeout: int, cwd: Path | None = None, **env: str) -> str:
    """``command``'s output; a test failure with its last lines where it fails."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **env}, cwd=cwd)
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)}:\n{out[-4000:]}"
    return out


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
    run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest",
         str(wheels), "torch==2.13.0"], timeout=900)
    if not any("+cpu" in wheel.name for wheel in wheels.glob("torch-*.whl")):
        pytest.skip("no CPU build of torch 2.13.0 to put in the image here (PyPI's is the "
                    "CUDA one, GBs): TORCH_INDEX needs download.pytorch.org")
    bundle = os.environ.get("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
    if Path(bundle).is_file():
        shutil.copy(bundle, wheels / "ca.crt")
    return folder


def base_image(scratch: Path) -> str:
    """The debootstrap base, made when there is none."""
    if BUILDAH is None:
        pytest.skip("no buildah: apt-get install buildah debootstrap (make test does, as root)")
    free = shutil.disk_usage(scratch).free / 2**30
    if free < NEEDS_GB:
        pytest.skip(f"{free:.1f} GB free; building the image needs about {NEEDS_GB} GB")
    if not exists(BASE):
        if shutil.which("debootstrap") is None:
            pytest.skip(f"no base image {BASE} and no debootstrap to make one")
        run(["sh", str(ROOT / "deploy" / "debian-base.sh")], timeout=1200)
    return BASE


def service_image(scratch: Path) -> str:
    """``make image`` of this tree; its layers are cached, so a second run takes seconds."""
    base = base_image(scratch)
    context = _context(scratch / "image-context")
    run(["make", "-C", str(ROOT), "--no-print-directory", "image", f"IMAGE={IMAGE}",
         f"IMAGE_BASE={base}", "TORCH_INDEX=", f"IMAGE_CONTEXT={context}"], timeout=2400)
    return IMAGE


def postgres_image(scratch: Path) -> str:
    """A stand-in for the official postgres:15 (tests/system/postgres_image)."""
    base = base_image(scratch)
    assert BUILDAH is not None
    run([BUILDAH, "bud", "--isolation", "chroot", "--format", "docker", "--layers", "-q",
         "--build-arg", f"BASE={base}", "-t", POSTGRES_IMAGE,
         str(ROOT / "tests" / "system" / "postgres_image")], timeout=900)
    return POSTGRES_IMAGE
