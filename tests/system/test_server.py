"""The real server: `recommender serve` under gunicorn on loopback."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def server(seed_index_dir):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "recommender.cli", "serve", "--index", str(seed_index_dir),
         "--port", str(port), "--workers", "2"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "RECOMMENDER_LOG_LEVEL": "warning"},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if _get(base + "/health")[0] == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"server did not start (exit code {proc.poll()})")
        time.sleep(0.3)
    yield base, proc
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def test_serves_similar_and_search_concurrently(server):
    base, _ = server
    urls = [base + "/similar?" + urllib.parse.urlencode({"title": "rocky 2", "k": 4}),
            base + "/search?q=karate&k=3"] * 10
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(_get, urls))
    assert all(status == 200 for status, _ in answers)
    for (_, body), url in zip(answers, urls, strict=True):
        if "search" in url:
            assert body["results"][0]["id"] == "the-karate-kid-1984"
        else:
            assert body["query"]["resolved"]["id"] == "rocky-ii-1979"


def test_errors_over_real_http(server):
    base, _ = server
    status, body = _get(base + "/search?q=karate&k=abc")
    assert (status, body["error"]["code"]) == (400, "invalid_parameter")
    status, body = _get(base + "/films/nope")
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_no_process_of_the_server_loads_torch(server):
    """A version with an ONNX export is served by onnxruntime and the tokenizers library:
    neither the gunicorn master nor a worker that has answered free text maps torch
    (docs/performance.md, "Lean processes")."""
    base, proc = server
    for _ in range(4):  # both workers, most likely, embed a query and answer a title
        assert _get(base + "/search?q=" + urllib.parse.quote("en bokser fra Philadelphia"))[0] \
            == 200
        assert _get(base + "/similar?title=Rocky&k=2")[0] == 200
    with open(f"/proc/{proc.pid}/maps") as fh:
        assert "libtorch" not in fh.read()
    with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as fh:
        workers = fh.read().split()
    assert len(workers) == 2
    for pid in workers:
        with open(f"/proc/{pid}/maps") as fh:
            maps = fh.read()
        assert "onnxruntime" in maps  # it did load what embeds the queries...
        assert "libtorch" not in maps  # ...and nothing of torch


def test_a_sigkilled_masters_metrics_folder_is_removed_by_the_next_start(
        seed_index_dir, tmp_path):
    """A master killed with SIGKILL can't remove its metrics folder; the next server to
    start removes the folders of masters that are gone, and none of a live one's."""
    from tests.ops import running_server

    env = {"TMPDIR": str(tmp_path)}
    with running_server(seed_index_dir, workers=1, env=env) as (_, first):
        [folder] = tmp_path.glob("recommender-metrics-*")
        assert folder.name.startswith(f"recommender-metrics-{first.pid}-")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        # its worker notices the master is gone and leaves on its own
        deadline = time.monotonic() + 30
        while subprocess.run(["pgrep", "-P", str(first.pid)], capture_output=True).stdout \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert folder.is_dir()  # left behind
        with running_server(seed_index_dir, workers=1, env=env) as (_, second):
            assert not folder.exists()
            assert [p.name.split("-")[2] for p in tmp_path.glob("recommender-metrics-*")] \
                == [str(second.pid)]


def test_a_port_in_use_fails_at_once_saying_so(seed_index_dir):
    """A second server on a port already held stops at once with a sentence that says how
    to choose another, not gunicorn's retries and "Can't connect"."""
    from urllib.parse import urlsplit

    from tests.ops import running_server

    with running_server(seed_index_dir, workers=1) as (base, _):
        port = urlsplit(base).port
        started = time.monotonic()
        second = subprocess.run(
            [sys.executable, "-m", "recommender.cli", "serve", "--index", str(seed_index_dir),
             "--port", str(port)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1 and time.monotonic() - started < 45
        assert f"127.0.0.1:{port} can't be listened on" in second.stderr
        assert "RECOMMENDER_PORT" in second.stderr and "make run PORT=" in second.stderr
