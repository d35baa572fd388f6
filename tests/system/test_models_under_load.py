"""A real server under load moves to another model with no failed request."""

import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from recommender.embedding.models import (
    E5_SMALL,
    MINILM,
)
from tests.conftest import ROOT
from tests.ops import call, running_server


@pytest.mark.server
def test_a_server_under_load_moves_to_another_model_with_no_failed_request(tmp_path):
    """The real server on a MiniLM index; `recommender build` (no --model: the Danish
    default) writes a multilingual-e5-small version while clients search; every request
    answers 200, and every worker ends on the new model."""
    out = tmp_path / "idx"
    subprocess.run([sys.executable, "-m", "recommender.cli", "build", "--out", str(out),
                    "--quiet", "--model", MINILM.name], cwd=ROOT, check=True)
    with running_server(out, workers=2, env={"RECOMMENDER_RELOAD_POLL_SECONDS": "0.3"}) as (
            base, proc):
        failures: list = []
        answered = 0
        stop = threading.Event()

        def load() -> None:
            nonlocal answered
            for i in range(2000):
                if stop.is_set():
                    return
                path = f"/search?q=bokser+{i % 7}&k=3" if i % 2 else "/similar?title=Rocky&k=3"
                try:
                    status, _ = call(base + path, timeout=30)
                except OSError as exc:
                    status = f"lost: {exc}"
                answered += 1
                if status != 200:
                    failures.append((path, status))

        clients = [threading.Thread(target=load) for _ in range(3)]
        for c in clients:
            c.start()
        subprocess.run([sys.executable, "-m", "recommender.cli", "build", "--out", str(out),
                        "--quiet"], cwd=ROOT, check=True)
        deadline = time.monotonic() + 30
        models: set = set()
        while time.monotonic() < deadline:
            models = {call(base + "/health")[1]["model"] for _ in range(8)}
            if models == {E5_SMALL.name}:
                break
            time.sleep(0.2)
        time.sleep(1.0)  # traffic on the new model too
        stop.set()
        for c in clients:
            c.join(timeout=60)
        status, body = call(base + "/search?q=" + urllib.parse.quote(
            "a boxer avenges a friend killed by a Soviet fighter") + "&k=1&mode=semantic")
        workers = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        torch = [w for w in workers if "libtorch" in Path(f"/proc/{w}/maps").read_text()]
    assert models == {E5_SMALL.name}
    assert workers and torch == []  # no torch in a worker, before or after the swap
    assert failures == [] and answered > 50, failures[:5]
    assert status == 200 and body["results"][0]["id"] == "rocky-iv-1985"
