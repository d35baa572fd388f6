"""Viewer events as an application sends them, through the real server at Netflix scale:
ingest rate of POST /events in batches of 1,000 on SQLite and on PostgreSQL, and the p50
of GET /users/{user}/recommendations for a viewer with 200 events beside
/films/{id}/similar's, in the same run; then ``recommender train`` on those events and the
same p50s with the collaborative model loaded, and the workers' memory before and after.

    python scripts/bench_events.py --index /tmp/netflix [--out FILE]

PostgreSQL is a fresh server started as the tests start one (tests/pg.py).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchlib import save_report

from tests import pg
from tests.ops import call, running_server

BATCHES, BATCH = 10, 1000


def post(base: str, body: dict) -> dict:
    request = urllib.request.Request(base + "/events", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"},
                                     method="POST")
    with urllib.request.urlopen(request, timeout=120) as r:
        return json.loads(r.read())


def p50(base: str, paths: list[str]) -> float:
    times = []
    for path in paths:
        started = time.perf_counter()
        assert call(base + path)[0] == 200
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 2)


def run(index: Path, events_url: str, ids: list[str]) -> dict:
    rng = random.Random(0)
    env = {"RECOMMENDER_EVENTS_URL": events_url, "RECOMMENDER_RELOAD_POLL_SECONDS": "1"}
    with running_server(index, workers=2, env=env) as (base, proc):
        deadline = time.monotonic() + 300
        while not call(base + "/admin/status")[1].get("similar_table") and \
                time.monotonic() < deadline:
            time.sleep(0.5)
        started = time.perf_counter()
        stored = 0
        for b in range(BATCHES):
            stored += post(base, {"events": [
                {"user": f"u{rng.randrange(500)}", "film": {"id": rng.choice(ids)},
                 "type": rng.choice(["view", "like", "dislike", "watchlist"]),
                 "event_id": f"b{b}-{i}"} for i in range(BATCH)]})["accepted"]
        seconds = time.perf_counter() - started
        post(base, {"events": [{"user": "viewer-200", "film": {"id": rng.choice(ids)},
                                "type": rng.choice(["view", "like", "rating"]),
                                **({"value": 4.0} if i % 3 == 2 else {}),
                                } for i in range(200)]})
        user = p50(base, ["/users/viewer-200/recommendations?k=10"] * 200)
        similar = p50(base, [f"/films/{rng.choice(ids)}/similar?k=10" for _ in range(200)])
        before = _rss_mb(proc.pid)
        # the collaborative model of these events, taken by the workers within their poll
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "recommender.cli", "train", "--index",
                        str(index), "--events-url", events_url], check=True,
                       capture_output=True)
        train_seconds = time.perf_counter() - started
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
                call(base + "/ready")[1].get("collaborative") for _ in range(6)):
            time.sleep(0.5)
        model = call(base + "/ready")[1]["collaborative"]
        with_model = p50(base, ["/users/viewer-200/recommendations?k=10"] * 200)
        similar_again = p50(base, [f"/films/{rng.choice(ids)}/similar?k=10"
                                   for _ in range(200)])
        after = _rss_mb(proc.pid)
    shutil.rmtree(index / "models", ignore_errors=True)  # the next store trains its own
    return {"events": stored, "seconds": round(seconds, 2),
            "events_per_second": round(stored / seconds), "user_recs_p50_ms": user,
            "similar_p50_ms": similar, "model": {
                "films": model["films"], "mb": round(model["bytes"] / 1e6, 1),
                "train_seconds": round(train_seconds, 2), "user_recs_p50_ms": with_model,
                "similar_p50_ms": similar_again, "worker_rss_mb_before": before,
                "worker_rss_mb_after": after}}


def _rss_mb(master: int) -> list[float]:
    """Each worker's resident memory (the master's children)."""
    pids = subprocess.run(["pgrep", "-P", str(master)], capture_output=True,
                          text=True).stdout.split()
    out = []
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        out.append(round(int(next(line for line in status.splitlines()
                                  if line.startswith("VmRSS:")).split()[1]) / 1024, 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, type=Path)
    parser.add_argument("--out", default="bench-results/events.json")
    args = parser.parse_args()
    ids = [json.loads(line)["id"] for line in
           (args.index / "current" / "films.jsonl").read_text().splitlines()]
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        report["sqlite"] = run(args.index, f"sqlite:///{tmp}/events.sqlite3", ids)
    reason = pg.why_not()
    if reason is None:
        with pg.postgres_server() as server:
            report["postgresql"] = run(args.index, pg.fresh_database(server), ids)
    print("| store | events (batches of 1,000) | events/s | viewer with 200 events: "
          "recommendations p50 ms | /films/{id}/similar p50 ms |\n|---|---|---|---|---|")
    for name, row in report.items():
        print(f"| {name} | {row['events']} | {row['events_per_second']} | "
              f"{row['user_recs_p50_ms']} | {row['similar_p50_ms']} |")
    print("\n| store | model: films, MB | train s (whole process) | viewer with 200 events: "
          "recommendations p50 ms, with the model | /films/{id}/similar p50 ms | worker RSS "
          "MB before -> with the model |\n|---|---|---|---|---|---|")
    for name, row in report.items():
        m = row["model"]
        print(f"| {name} | {m['films']:,}, {m['mb']} | {m['train_seconds']} | "
              f"{m['user_recs_p50_ms']} | {m['similar_p50_ms']} | "
              f"{m['worker_rss_mb_before']} -> {m['worker_rss_mb_after']} |")
    save_report(args.out, report)


if __name__ == "__main__":
    main()
