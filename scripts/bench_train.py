"""How long ``recommender train``'s learning takes (its backtest's choosing included),
and how much memory, by log size: generated logs shaped like MovieLens up to 10M events,
each size in a fresh process (its peak RSS is the process's own).

    python scripts/bench_train.py [--sizes 100000,1000000,10000000] [--films 7787] [--out FILE]

A generated log has MovieLens's shape: ~165 events per viewer, films drawn with a Zipf
popularity (exponent 1.0, as MovieLens's counts fall), ``--films`` films (Netflix scale by
default). The model's size is dense in the films learnt: 4 n^2 bytes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import save_report

ROOT = Path(__file__).resolve().parent.parent
EVENTS_PER_VIEWER = 165


def _one(size: int, films: int, seed: int) -> dict:
    import numpy as np

    from recommender.config import Settings
    from recommender.viewers import training

    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, films + 1)
    weights /= weights.sum()
    viewers = max(size // EVENTS_PER_VIEWER, 1)
    users = rng.integers(0, viewers, size=size)
    picks = rng.choice(films, size=size, p=weights)
    ts = np.sort(rng.uniform(8.2e8, 1.54e9, size=size))
    catalog = [f"film-{i}" for i in range(films)]
    events = ((f"u{u}", catalog[f], "view", None, t)
              for u, f, t in zip(users.tolist(), picks.tolist(), ts.tolist(), strict=True))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        report, tuned = training.train_set(Path(tmp), events, catalog, Settings())
        seconds = time.perf_counter() - started
        size_bytes = sum(p.stat().st_size for p in report.path.iterdir())
    return {"events": size, "viewers": viewers, "films_learnt": report.films,
            "tune_seconds": tuned.seconds if tuned else 0.0,
            "train_seconds": round(seconds, 2), "model_mb": round(size_bytes / 1e6, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--films", type=int, default=7787)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a size, in this process
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, args.films, args.seed)))
        return 0
    rows = []
    print("| events | viewers | films learnt | train s | of it, the backtest s | model MB | "
          "peak RSS MB |\n|---|---|---|---|---|---|---|", flush=True)
    for size in (int(s) for s in args.sizes.split(",")):
        done = subprocess.run([sys.executable, __file__, "--one", str(size), "--films",
                               str(args.films), "--seed", str(args.seed)], cwd=ROOT,
                              capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"| {r['events']:,} | {r['viewers']:,} | {r['films_learnt']:,} | "
              f"{r['train_seconds']:.1f} | {r['tune_seconds']:.1f} | {r['model_mb']:.1f} | "
              f"{r['peak_rss_mb']:,} |",
              flush=True)
    if args.out:
        save_report(args.out, {"films": args.films, "sizes": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
