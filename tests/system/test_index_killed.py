"""A build killed mid-way (a real process, SIGKILL) leaves the previous index."""

import json
import os
import re
import signal
import subprocess
import sys
import time

from recommender.catalog.films import load_catalog
from recommender.index.build import build_index
from recommender.index.store import load_index
from tests.conftest import ROOT, SEEDS


def test_build_killed_mid_way_leaves_the_previous_index(tmp_path, seed_catalog, embedder):
    """A real build process, killed with SIGKILL while it embeds."""
    out = tmp_path / "idx"
    first = build_index(seed_catalog, embedder, out, progress=False).path
    big = tmp_path / "big.jsonl"
    films = load_catalog(SEEDS).films
    with big.open("w", encoding="utf-8") as fh:
        for i in range(3000):
            f = films[i % len(films)]
            fh.write(json.dumps({"id": f"film-{i}", "title": f"{f.title} {i}",
                                 "synopsis": f"{f.synopsis} ({i})"}) + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "recommender.cli", "build", "--catalog", str(big),
         "--out", str(out), "--batch-size", "16"],
        cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    # killed when its progress bar shows it part-way (not after a fixed sleep, which a
    # fast machine could outlast): nothing is written until every film is embedded
    deadline = time.monotonic() + 120
    seen, done = "", 0
    while not 0 < done < 3000 and time.monotonic() < deadline:
        char = proc.stderr.read(1)
        if not char:
            break
        seen += char
        counts = re.findall(r"(\d+)/3000", seen[-40:])
        done = int(counts[-1]) if counts else 0
    assert 0 < done < 3000, seen[-300:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    idx = load_index(out)
    assert idx.path == first.resolve()
    assert len(idx) == 8
    # the next build cleans up whatever the killed one left behind
    second = build_index(seed_catalog, embedder, out, progress=False).path
    assert not [p for p in (out / "versions").iterdir() if p.name.startswith(".")]
    assert load_index(out).path == second.resolve()
