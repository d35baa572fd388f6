"""Per-viewer recommendations judged on the future, as an application sees them.

For each cut-off (a quantile of the log's times) of a MovieLens log joined to a catalog
(scripts/join_movielens.py): every event before it is sent with POST /events to a real
server, **moved in time so that the cut-off is now** (the server's clock and the log
agree); ``recommender train`` runs as a whole process; then one
``GET /users/{u}/recommendations?k=10`` per viewer who rated a film new to them 4 or more
after the cut (their first such film is what must be found). Beside it, on the same
history and the same candidates: the most popular films, decayed popularity (half-life 30
days, at the cut) and EASE. The viewers of every cut-off are pooled, each hit rate with a
95% bootstrap interval.

    python scripts/bench_future.py --join bench-results/ml-imdb [--cuts 0.75:0.95:0.05]

The cut-offs reported are later than the development ones the ranking's weights were
chosen on (scripts/time_grid.py: 0.40 .. 0.70). MovieLens is GroupLens research data
(Harper and Konstan, ACM TiiS 5(4), 2015): used here to measure, never shipped.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_viewers import ask, post
from benchlib import save_report, train_and_wait

from recommender.evaluation.future import (
    BASELINE,
    HISTORY_GROUPS,
    bootstrap_interval,
    paired_interval,
    parse_cuts,
)
from recommender.evaluation.viewer_quality import HEAD_SHARE, split_by_time
from recommender.storage import Event
from recommender.viewers.baselines import Baselines
from tests.ops import running_server

ROOT = Path(__file__).resolve().parent.parent
K = 10
MODELS = ("ours", "most popular", "popular (decayed)", "EASE")


def one_cut(index: Path, raw: list[dict], events: list[Event], films: list[str],
            fraction: float) -> dict:
    split = split_by_time(events, 1, fraction)
    cut = events[min(int(len(events) * fraction), len(events) - 1)].ts or 0.0  # (sorted)
    users = sorted(split.held_out)
    kept = {id(e) for e in split.history}
    shift = time.time() - cut
    history = [{**r, "ts": r["ts"] + shift} for r, e in zip(raw, events, strict=True)
               if id(e) in kept]
    with tempfile.TemporaryDirectory(prefix="bench-future-") as tmp:
        served = Path(tmp) / "index"  # without a model: one trained on the log would know
        shutil.copytree(index, served, symlinks=True, ignore=shutil.ignore_patterns("models"))
        url = f"sqlite:///{Path(tmp) / 'events.sqlite3'}"
        env = {"RECOMMENDER_EVENTS_URL": url, "RECOMMENDER_RELOAD_POLL_SECONDS": "0.5"}
        with running_server(served, workers=2, env=env) as (base, _):
            post(base, history)
            train_and_wait(served, url, base)
            ranked, _ = ask(base, users)
    baselines = Baselines(split.history, films, cut, lam=200.0)
    seen: dict[str, set[str]] = {}
    for e in split.history:
        seen.setdefault(e.user, set()).add(e.film_id)
    # the films watched most before the cut-off: a hit on one of them is one any popular
    # list makes (the debiased hit rate leaves them out)
    order = np.argsort(-baselines.popular, kind="stable")
    head = {films[int(i)] for i in order[:max(int(len(films) * HEAD_SHARE), 1)]}
    sizes: dict[str, int] = {}
    for e in split.history:
        sizes[e.user] = sizes.get(e.user, 0) + 1
    hits: dict[str, list[float]] = {name: [] for name in MODELS}
    ndcgs: dict[str, list[float]] = {name: [] for name in MODELS}
    shown: dict[str, set[str]] = {name: set() for name in MODELS}
    for user in users:
        target = split.held_out[user].film_id
        lists = {"ours": ranked[user]}
        lists.update({name: baselines.rank(name, seen.get(user, set()), K)
                      for name in MODELS[1:]})
        for name, films_shown in lists.items():
            place = next((i for i, f in enumerate(films_shown[:K], 1) if f == target), None)
            hits[name].append(float(place is not None))
            ndcgs[name].append(1.0 / math.log2(1 + place) if place else 0.0)
            shown[name].update(films_shown[:K])
    return {"cut": fraction, "clock": cut, "viewers": len(users),
            "history_events": len(history), "hits": hits, "ndcgs": ndcgs,
            "coverage": {n: len(f) / len(films) for n, f in shown.items()},
            "history": [sizes.get(u, 0) for u in users],
            "head": [split.held_out[u].film_id in head for u in users]}


def pooled_figures(per_cut: list[dict]) -> dict[str, dict]:
    """Each model's figures pooled over the cut-offs, as ``eval-users --split time``
    gives them: hit@10 with its interval and the paired interval of its difference to
    decayed popularity, NDCG@10, the debiased hit@10, coverage@10, and by history."""
    history = [n for r in per_cut for n in r["history"]]
    head = [h for r in per_cut for h in r["head"]]
    baseline = [h for r in per_cut for h in r["hits"][BASELINE]]
    pooled: dict[str, dict] = {}
    for name in MODELS:
        hits = [h for r in per_cut for h in r["hits"][name]]
        n = max(len(hits), 1)
        groups = {}
        for low, high, label in HISTORY_GROUPS:
            inside = [h for h, size in zip(hits, history, strict=True)
                      if size >= low and (high is None or size <= high)]
            groups[label] = round(sum(inside) / len(inside), 4) if inside else None
        pooled[name] = {
            "viewer_cuts": len(hits), "hit@10": round(sum(hits) / n, 4),
            "ci95": bootstrap_interval(hits),
            "ndcg@10": round(sum(h for r in per_cut for h in r["ndcgs"][name]) / n, 4),
            "debiased_hit@10": round(sum(h for h, p in zip(hits, head, strict=True)
                                         if not p) / n, 4),
            "coverage@10": round(sum(r["coverage"][name] for r in per_cut) /
                                 max(len(per_cut), 1), 4),
            "by_history": groups}
        if name != BASELINE:
            pooled[name]["vs_decayed_popularity_ci95"] = paired_interval(hits, baseline)
    return pooled


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--join", type=Path, required=True)
    parser.add_argument("--cuts", default="0.75:0.95:0.05")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    cuts = parse_cuts(args.cuts)
    index = args.join / "index"
    subprocess.run([sys.executable, "-m", "recommender.cli", "build", "--catalog",
                    str(args.join / "films.jsonl"), "--out", str(index), "--quiet",
                    "--if-stale"], cwd=ROOT, check=True)
    raw = sorted((json.loads(line) for line in (args.join / "events.jsonl").open()),
                 key=lambda r: r["ts"])
    events = [Event(r["user"], r["film"]["id"], r["type"], r["value"], float(r["ts"]))
              for r in raw]
    films = [json.loads(line)["id"] for line in (args.join / "films.jsonl").open()]
    per_cut = []
    for fraction in cuts:
        result = one_cut(index, raw, events, films, fraction)
        per_cut.append(result)
        print(f"cut {fraction}: {result['viewers']} viewers, " + ", ".join(
            f"{m} {sum(h) / max(len(h), 1):.3f}" for m, h in result["hits"].items()),
            flush=True)
    pooled = pooled_figures(per_cut)
    groups = [label for _, _, label in HISTORY_GROUPS]
    print(f"\n{args.join}: cut-offs {cuts[0]}..{cuts[-1]} ({len(cuts)}), pooled, over HTTP\n")
    print("| model | viewer-cuts | hit@10 | 95% interval | - decayed popularity, paired 95% | "
          "NDCG@10 | debiased hit@10 | coverage@10 | " + " | ".join(groups) + " |\n"
          "|---|---|---|---|---|---|---|---|" + "---|" * len(groups))
    for name, m in pooled.items():
        low, high = m["ci95"]
        paired = m.get("vs_decayed_popularity_ci95")
        difference = f"{paired[0]:+.3f}..{paired[1]:+.3f}" if paired else "-"
        by = " | ".join("-" if m["by_history"][g] is None else f"{m['by_history'][g]:.3f}"
                        for g in groups)
        print(f"| {name} | {m['viewer_cuts']} | {m['hit@10']:.3f} | {low:.3f}-{high:.3f} | "
              f"{difference} | {m['ndcg@10']:.3f} | {m['debiased_hit@10']:.3f} | "
              f"{m['coverage@10']:.3f} | {by} |")
    if args.out:
        save_report(args.out, {"join": str(args.join), "cuts": cuts, "k": K,
                               "pooled": pooled,
                               "by_cut": [{k: v for k, v in r.items()
                                           if k not in ("hits", "ndcgs", "history", "head")}
                                          for r in per_cut]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
