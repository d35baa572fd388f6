"""Builds killed with SIGKILL at random points, several times: the service always
starts on the last complete version, never on a half-written one."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from recommender.catalog.films import load_catalog
from recommender.config import Settings
from recommender.distribution.live import LiveIndex
from recommender.index.build import build_index
from recommender.index.store import MANIFEST, complete_versions, load_index
from tests.conftest import ROOT, SEEDS
from tests.ops import big_catalog, call, running_server

pytestmark = pytest.mark.crash

ROUNDS = int(os.environ.get("CRASH_ROUNDS", "6"))


def test_killed_builds_never_leave_a_half_index(tmp_path, embedder):
    out = tmp_path / "idx"
    build_index(load_catalog(SEEDS), embedder, out, progress=False)
    big = big_catalog(tmp_path / "big.jsonl")
    rng = random.Random(int(os.environ.get("CRASH_SEED", "20261125")))
    # how long a whole build takes here, so the kills land across all of it
    t0 = time.monotonic()
    # --no-reuse: every build embeds everything, so there is a long build to kill
    subprocess.run([sys.executable, "-m", "recommender.cli", "build", "--catalog", str(big),
                    "--out", str(out), "--quiet", "--no-reuse"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    full = time.monotonic() - t0
    kills = []
    for _ in range(ROUNDS):
        before = load_index(out).path
        proc = subprocess.Popen(
            [sys.executable, "-m", "recommender.cli", "build", "--catalog", str(big),
             "--out", str(out), "--quiet", "--batch-size", "16", "--no-reuse"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        delay = rng.uniform(0.2, full * 1.1)
        time.sleep(delay)
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills.append({"after_s": round(delay, 2), "killed": killed})

        # what a restarted server process does
        live = LiveIndex(Settings(index=out, reload_poll_seconds=0), embedder)
        live.start()
        engine = live.engine()
        current = (out / "current").resolve()
        assert engine.index.path.resolve() == current
        assert (current / MANIFEST).is_file() and not current.name.startswith(".")
        # the last complete version: the one before, or the build's own if it got that far
        assert current == before.resolve() or current == complete_versions(out)[-1].resolve()
        assert len(engine.index) in (8, 300)
        assert engine.similar(engine.index.films[0].id).results
    assert any(k["killed"] for k in kills), kills
    print("\ncrash test:", json.dumps({"full_build_s": round(full, 2), "rounds": kills}))

    # and a real server starts on it
    with running_server(out, workers=1) as (base, _):
        status, body = call(base + "/ready")
        assert status == 200 and body["version"] == load_index(out).version
