"""What recording impressions costs an answer, over HTTP at Netflix scale, side by side.

Three runs of the real server (2 workers) on one index and one SQLite event database: with
impressions off (``RECOMMENDER_IMPRESSIONS=off``), on, and on with the database locked
for writing the whole time (another connection holds ``BEGIN IMMEDIATE``), so the
impression writer can't write and its queue (``RECOMMENDER_IMPRESSIONS_QUEUE_SIZE=100``)
fills and drops. In each: a viewer with 200 events asks
``GET /users/{u}/recommendations?k=10`` and ``GET /films/{id}/similar?k=10`` is asked of
200 films, ``--requests`` (1,000) times each, one client; p50 and p99 of each, and the
impressions written and dropped as ``/metrics`` counts them.

    python scripts/bench_impressions.py --index bench-results/netflix [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from benchlib import save_report

from tests.ops import call, running_server

ROOT = Path(__file__).resolve().parent.parent


def _p(times: list[float], q: float) -> float:
    return round(statistics.quantiles(times, n=100)[int(q) - 1], 2)


@contextmanager
def locked(path: Path):
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def one_run(index: Path, db: Path, films: list[str], mode: str, requests: int) -> dict:
    env = {"RECOMMENDER_EVENTS_URL": f"sqlite:///{db}",
           "RECOMMENDER_IMPRESSIONS": "off" if mode == "off" else "on",
           "RECOMMENDER_IMPRESSIONS_QUEUE_SIZE": "100"}
    times: dict[str, list[float]] = {"users/{u}/recommendations": [], "films/{id}/similar": []}
    with running_server(index, workers=2, env=env) as (base, _):
        for _ in range(20):  # warm: the first answers of each worker load what they need
            call(f"{base}/users/bench-viewer/recommendations?k=10")
            call(f"{base}/films/{films[0]}/similar?k=10")
        with locked(db) if mode == "on, database locked" else _nothing():
            for i in range(requests):
                for route, url in (("users/{u}/recommendations",
                                    f"{base}/users/bench-viewer/recommendations?k=10"),
                                   ("films/{id}/similar",
                                    f"{base}/films/{films[i % len(films)]}/similar?k=10")):
                    started = time.perf_counter()
                    status, _ = call(url)
                    times[route].append((time.perf_counter() - started) * 1000)
                    assert status == 200, (route, status)
        time.sleep(1.5)  # the last batches
        text = urlopen_text(base + "/metrics")
    return {"mode": mode,
            **{f"{route} p50 ms": _p(t, 50) for route, t in times.items()},
            **{f"{route} p99 ms": _p(t, 99) for route, t in times.items()},
            "impressions written": _sum(text, "recommender_impressions_total"),
            "impressions dropped": _sum(text, "recommender_impressions_dropped_total")}


@contextmanager
def _nothing():
    yield


def urlopen_text(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()


def _sum(text: str, name: str) -> int:
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name + "{") or line.startswith(name + " ")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    films = [f["id"] for f in json.loads(subprocess.run(
        [sys.executable, "-c", "import json,sys; from recommender.index.store import "
         "load_index; i = load_index(sys.argv[1]); print(json.dumps([{'id': f.id} for f in "
         "i.films]))", str(args.index)], cwd=ROOT, capture_output=True, text=True,
        check=True).stdout)]
    rng = random.Random(0)
    sample = rng.sample(films, 200)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-impressions-") as tmp:
        index = Path(tmp) / "index"
        shutil.copytree(args.index, index, symlinks=True, ignore=shutil.ignore_patterns("models"))
        db = Path(tmp) / "events.sqlite3"
        with running_server(index, workers=1, env={"RECOMMENDER_EVENTS_URL": f"sqlite:///{db}"}
                            ) as (base, _):
            status, _ = call(base + "/events", "POST", {"events": [
                {"user": "bench-viewer", "film": {"id": f}, "type": "rating",
                 "value": rng.choice([2, 3, 4, 5])} for f in rng.sample(films, 200)]})
            assert status == 200
        for mode in ("off", "on", "on, database locked"):
            rows.append(one_run(index, db, sample, mode, args.requests))
    keys = list(rows[0])
    print(f"{args.index}: {len(films):,} films, {args.requests} requests a route a run\n")
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")
    if args.out:
        save_report(args.out, {"index": str(args.index), "films": len(films), "runs": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
