"""Per-viewer recommendations measured as an application uses the service, on real viewers.

A MovieLens log joined to a catalog (scripts/join_movielens.py) is split leave-last-out
(each viewer's last rating >= 4 of a film new to them held out); everything before it is
sent with POST /events to a real server; then GET /users/{u}/recommendations?k=10 for each
viewer, first from content alone (no model yet), then after ``recommender train`` (the
servers take the model within their poll); beside the most popular films and EASE computed
on the same histories and candidates. A second run hides every event of a share of the
films (--cold, seeded), which the catalog says arrived yesterday (``PATCH /films/{id}``
with ``available_from``): the *cold films* figure is over the viewers whose held-out film
is one of them. Also: the per-viewer route's p50 beside /films/{id}/similar's in the same
run, ``recommender train``'s time as a whole process, and the workers' resident memory.

    python scripts/bench_viewers.py --join bench-results/ml-imdb [--out FILE]

MovieLens is GroupLens research data (Harper and Konstan, ACM TiiS 5(4), 2015): used here
to measure, never shipped.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

from benchlib import save_report, train_and_wait

from recommender.storage import Event
from recommender.viewers.baselines import Baselines
from tests.ops import call, running_server

ROOT = Path(__file__).resolve().parent.parent
K = 10


def split(events: list[dict]) -> tuple[list[dict], dict[str, str]]:
    by_user: dict[str, list[dict]] = defaultdict(list)
    for e in sorted(events, key=lambda e: e["ts"]):
        by_user[e["user"]].append(e)
    history, held = [], {}
    for user, log in by_user.items():
        first: dict[str, int] = {}
        for i, e in enumerate(log):
            first.setdefault(e["film"]["id"], i)
        target = next((i for i in range(len(log) - 1, -1, -1)
                       if log[i]["value"] >= 4 and first[log[i]["film"]["id"]] == i), None)
        if target is None or target < 1:
            history += log
            continue
        held[user] = log[target]["film"]["id"]
        history += log[:target]
    return history, held


def post(base: str, events: list[dict]) -> None:
    for start in range(0, len(events), 1000):
        body = json.dumps({"events": events[start:start + 1000]}).encode()
        request = urllib.request.Request(base + "/events", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as r:
            answer = json.loads(r.read())
            assert not answer["rejected"], answer["rejected"][:3]


def score(ranked_by_user: dict[str, list[str]], held: dict[str, str],
          users: list[str]) -> dict[str, float]:
    hits = ndcg = 0.0
    for user in users:
        ranked = ranked_by_user[user]
        if held[user] in ranked:
            hits += 1
            ndcg += 1 / math.log2(2 + ranked.index(held[user]))
    n = max(len(users), 1)
    return {"viewers": len(users), "hit@10": round(hits / n, 4), "ndcg@10": round(ndcg / n, 4)}


def ask(base: str, users: list[str]) -> tuple[dict[str, list[str]], list[float]]:
    ranked, times = {}, []
    for user in users:
        started = time.perf_counter()
        _, body = call(f"{base}/users/{urllib.parse.quote(user)}/recommendations?k={K}")
        times.append((time.perf_counter() - started) * 1000)
        ranked[user] = [r["id"] for r in body["results"]]
    return ranked, times


def rss_mb(master_pid: int) -> list[float]:
    out = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True)
    sizes = []
    for pid in out.stdout.split():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(round(int(line.split()[1]) / 1024, 1))
    return sizes


def one_run(index: Path, history: list[dict], held: dict[str, str], users: list[str],
            hidden: set[str]) -> dict:
    kept = [e for e in history if e["film"]["id"] not in hidden]
    with tempfile.TemporaryDirectory(prefix="bench-viewers-") as tmp:
        # a copy without any model: one trained on the whole log would know the answers
        built, index = index, Path(tmp) / "index"
        shutil.copytree(built, index, symlinks=True, ignore=shutil.ignore_patterns("models"))
        url = f"sqlite:///{Path(tmp) / 'events.sqlite3'}"
        env = {"RECOMMENDER_EVENTS_URL": url, "RECOMMENDER_RELOAD_POLL_SECONDS": "0.5"}
        with running_server(index, workers=2, env=env) as (base, proc):
            # the hidden films are the films the catalog adds: it says so, as an operator
            # would, and they are new on the service from yesterday
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86_400))
            for film in sorted(hidden):
                status, answer = call(f"{base}/films/{film}", "PATCH",
                                      {"available_from": since})
                assert status == 200, answer
            post(base, kept)
            before, _ = ask(base, users)
            train_seconds = train_and_wait(index, url, base)
            after, latency = ask(base, users)
            film_ids = [e["film"]["id"] for e in kept[:200]]
            similar = []
            for film in film_ids:
                t = time.perf_counter()
                call(f"{base}/films/{film}/similar?k={K}")
                similar.append((time.perf_counter() - t) * 1000)
            memory = rss_mb(proc.pid)
    events = [Event(e["user"], e["film"]["id"], e["type"], e["value"], float(e["ts"]))
              for e in kept]
    now = max(e.ts or 0.0 for e in events)
    films = [json.loads(line)["id"] for line in (built.parent / "films.jsonl").open()]
    baselines = Baselines(events, films, now, lam=200.0)
    seen = defaultdict(set)
    for e in kept:
        seen[e["user"]].add(e["film"]["id"])
    good = defaultdict(float)  # the "most popular": count of ratings >= 4
    for e in kept:
        if e["value"] >= 4:
            good[e["film"]["id"]] += 1
    popular = sorted(films, key=lambda f: (-good[f], f))
    ranked = {"most popular (ratings >= 4)": {u: [f for f in popular if f not in seen[u]][:K]
                                              for u in users},
              "EASE (lambda 200)": {u: baselines.rank("EASE", seen[u], K) for u in users},
              "ours before (content only)": before, "ours (model + content)": after}
    return {"ranked": ranked, "train_seconds": round(train_seconds, 2),
            "p50_ms": {"users/{u}/recommendations": round(statistics.median(latency), 2),
                       "films/{id}/similar": round(statistics.median(similar), 2)},
            "worker_rss_mb": memory}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--join", type=Path, required=True,
                        help="a folder of scripts/join_movielens.py (films.jsonl, events.jsonl)")
    parser.add_argument("--cold", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    index = args.join / "index"
    subprocess.run([sys.executable, "-m", "recommender.cli", "build", "--catalog",
                    str(args.join / "films.jsonl"), "--out", str(index), "--quiet",
                    "--if-stale"], cwd=ROOT, check=True)
    events = [json.loads(line) for line in (args.join / "events.jsonl").open()]
    history, held = split(events)
    users = sorted(held)
    warm = one_run(index, history, held, users, set())
    films = sorted({json.loads(line)["id"] for line in (args.join / "films.jsonl").open()})
    hidden = set(random.Random(args.seed).sample(films, int(len(films) * args.cold)))
    cold = one_run(index, history, held, users, hidden)
    cold_users = [u for u in users if held[u] in hidden]
    report = {"join": str(args.join), "viewers": len(users), "events": len(events),
              "history_events": len(history), "k": K,
              "models": {name: score(r, held, users) for name, r in warm["ranked"].items()},
              "cold_films": {"fraction": args.cold, "hidden": len(hidden),
                             "models": {name: score(r, held, cold_users)
                                        for name, r in cold["ranked"].items()}},
              "train_seconds": warm["train_seconds"], "p50_ms": warm["p50_ms"],
              "worker_rss_mb": warm["worker_rss_mb"]}
    print(f"{args.join}: {len(users)} viewers, {len(history):,} events sent over HTTP\n")
    print("| model | hit@10 | NDCG@10 | cold films hit@10 |\n|---|---|---|---|")
    for name, m in report["models"].items():
        c = report["cold_films"]["models"][name]
        print(f"| {name} | {m['hit@10']:.3f} | {m['ndcg@10']:.3f} | {c['hit@10']:.3f} |")
    print(f"\ncold films: {len(cold_users)} viewers whose held-out film is one of the "
          f"{len(hidden)} hidden; train {warm['train_seconds']} s (whole process); p50 "
          f"{warm['p50_ms']}; worker RSS {warm['worker_rss_mb']} MB")
    if args.out:
        save_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
