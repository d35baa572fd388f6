"""A load test against the real gunicorn server on loopback, with a reload in the middle.

Bounded: LOAD_REQUESTS requests (default 3,000) or LOAD_SECONDS (default 120),
whichever comes first. The figures are printed and written to
``bench-results/load-test.json``.
"""

import json
import os
import statistics
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from recommender.catalog.films import load_catalog
from recommender.index.build import build_index
from tests.conftest import ROOT, SEEDS
from tests.ops import call, running_server

pytestmark = pytest.mark.load

REQUESTS = int(os.environ.get("LOAD_REQUESTS", "3000"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "120"))
CLIENTS = 8
TITLES = ["Rocky", "rocky 2", "Rocky III", "Karate Kid", "Triumfens timer", "Lucky You", "Rokcy"]
QUERIES = ["karate", "bokser", "a boxer fights a Russian", "poker", "olympisk guld",
           "Ivan Drago", "kærlighed og kamp"]


def _url(base: str, i: int) -> str:
    if i % 2:
        return f"{base}/similar?" + urllib.parse.urlencode({"title": TITLES[i % len(TITLES)],
                                                            "k": 5})
    return f"{base}/search?" + urllib.parse.urlencode({"q": QUERIES[i % len(QUERIES)], "k": 5})


def test_mixed_load_with_a_reload_in_the_middle(tmp_path, embedder, write_catalog):
    out = tmp_path / "idx"
    first = build_index(load_catalog(SEEDS), embedder, out, progress=False).path
    films = [json.loads(line) for line in SEEDS.read_text("utf-8").splitlines()]
    bigger = load_catalog(write_catalog([*films, {
        "id": "creed-2015", "title": "Creed", "year": 2015,
        "synopsis": "Adonis, søn af Apollo Creed, bliver trænet af Rocky Balboa."}]))

    with running_server(out, workers=2, env={"RECOMMENDER_RELOAD_POLL_SECONDS": "0.5"}) as (
            base, _):
        results: list[tuple[int, float, str]] = []
        lock = threading.Lock()
        started = time.monotonic()
        reload_at = REQUESTS // 2
        reload_info: dict = {}

        def one(i: int) -> None:
            if time.monotonic() - started > SECONDS:
                return
            if i == reload_at:  # a new version, built and swapped in while traffic flows
                second = build_index(bigger, embedder, out, progress=False).path
                reload_info["status"], reload_info["body"] = call(base + "/admin/reload",
                                                                  "POST")
                reload_info["version"] = second.name
            url = _url(base, i)
            t0 = time.perf_counter()
            try:
                status, _ = call(url)
            except OSError as exc:  # a lost request: connection refused, reset, timed out
                status = f"lost: {exc}"
            with lock:
                results.append((status, time.perf_counter() - t0, url))

        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(one, range(REQUESTS)))
        elapsed = time.monotonic() - started

        # every worker serves the new version within its watcher's poll interval and jitter
        # (0.5 s + up to 1 s, plus the load): the one the reload reached at once, the other
        # when its watcher sees `current` move
        deadline = time.monotonic() + 60
        while True:
            after = [call(base + "/films/creed-2015")[0] for _ in range(20)]
            versions = {call(base + "/health")[1]["index"]["version"] for _ in range(20)}
            if after == [200] * 20 or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        metrics = call_text(base + "/metrics")

    latencies = sorted(t for _, t, _ in results)
    errors = [(s, u) for s, _, u in results if s != 200]
    report = {
        "requests": len(results), "errors": len(errors),
        "lost": sum(1 for s, _ in errors if isinstance(s, str)),
        "clients": CLIENTS, "seconds": round(elapsed, 2),
        "requests_per_second": round(len(results) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 2),
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
        "reload": {"status": reload_info.get("status"), "from": first.name,
                   "to": reload_info.get("version")},
        "mix": "50% GET /similar?title=..., 50% GET /search?q=..., k=5, 2 gunicorn workers",
    }
    (ROOT / "bench-results").mkdir(exist_ok=True)
    (ROOT / "bench-results" / "load-test.json").write_text(json.dumps(report, indent=2))
    print("\nload test:", json.dumps(report))

    assert report["requests"] >= min(REQUESTS, 100)
    assert errors == [], errors[:5]
    # this worker swaps now, unless its watcher already has (both within the run)
    assert reload_info["status"] == 200
    assert reload_info["body"]["version"] == reload_info["version"]
    assert after == [200] * 20 and versions == {reload_info["version"]}
    counted = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                  if line.startswith("recommender_requests_total{")
                  and ('route="/similar"' in line or 'route="/search"' in line))
    assert counted == len(results)  # /metrics adds up every worker's requests


def call_text(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()
