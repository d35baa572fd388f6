#!/usr/bin/env python3
"""Sweep the hybrid fusion's parameters on labelled sets, side by side.

For each (rrf_k, semantic_weight) it scores hybrid search with the real
engine, next to semantic and lexical alone, and prints one table per model and set;
the figures also go to a JSON file. This is how each model's weight in
``recommender/embedding/models.py`` (and the constant in ``recommender/config.py``) was
chosen.

    python scripts/fusion_grid.py                      # every model: seeds, hard, Netflix
    python scripts/fusion_grid.py --models multilingual-e5-small --out fusion.json

A Netflix index of ``scripts/bench_models.py`` (``bench-results/models/netflix-<model>``)
is used where there is one, so the grid doesn't build it again.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

from benchlib import NETFLIX, load_netflix

from recommender.catalog.films import load_catalog, slugify
from recommender.config import Settings
from recommender.embedding.embedder import Embedder
from recommender.evaluation.search_quality import METRICS, evaluate, load_labels
from recommender.files import write_json_atomically
from recommender.index.build import build_index
from recommender.index.store import load_index
from recommender.search.engine import Engine

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models",
                        default="all-MiniLM-L6-v2,multilingual-e5-small,all-mpnet-base-v2")
    parser.add_argument("--rrf-k", default="5,10,20,60")
    parser.add_argument("--weights", default="0.3,0.4,0.5,0.6,0.7,0.8")
    parser.add_argument("--netflix", default=str(NETFLIX))
    parser.add_argument("--out", default="fusion-grid.json")
    args = parser.parse_args()
    ks = [int(k) for k in args.rrf_k.split(",")]
    weights = [float(w) for w in args.weights.split(",")]

    seeds = load_catalog(ROOT / "seeds" / "films.jsonl")
    sets = [("seeds", seeds, ROOT / "seeds" / "labels" / "seeds.json"),
            ("seeds-hard", seeds, ROOT / "seeds" / "labels" / "seeds-hard.json")]
    if Path(args.netflix).exists():
        sets.append(("netflix", None, ROOT / "seeds" / "labels" / "netflix.json"))
    else:
        print(f"skipping Netflix: {args.netflix} is absent", file=sys.stderr)

    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            embedder = Embedder(model)
            report[model] = grid(embedder, sets, Path(tmp), ks, weights, args.netflix)
    write_json_atomically(args.out, report)
    print(f"\nwritten to {args.out}")
    return 0


def grid(embedder: Embedder, sets: list, tmp: Path, ks: list[int], weights: list[float],
         netflix: str) -> dict:
    report: dict = {}
    for name, catalog, labels_path in sets:
        built = ROOT / "bench-results" / "models" / f"netflix-{slugify(embedder.name)}"
        if name == "netflix" and (built / "current").exists():
            index = load_index(built)
        else:
            folder = tmp / f"{name}-{slugify(embedder.name)}"
            if not (folder / "current").exists():
                build_index(catalog or load_netflix(netflix), embedder, folder,
                            progress=True)
            index = load_index(folder)
        labels = load_labels(labels_path, set(index.row_of))
        rows = {}
        base = evaluate(Engine(index, embedder, Settings()), labels, ("semantic", "lexical"))
        for mode in ("semantic", "lexical"):
            rows[mode] = base["modes"][mode]["all"]
        for k in ks:
            for w in weights:
                settings = dataclasses.replace(Settings(), rrf_k=k, semantic_weight=w)
                result = evaluate(Engine(index, embedder, settings), labels, ("hybrid",))
                rows[f"hybrid k={k} w={w}"] = result["modes"]["hybrid"]["all"]
        report[name] = rows
        best_single = {m: max(rows["semantic"][m], rows["lexical"][m]) for m in METRICS}
        print(f"\n{embedder.name}, {name}: {labels_path.name}, all questions "
              "(* = at least the better single mode on every metric)")
        print("| ranking | " + " | ".join(METRICS) + " | |")
        print("|---|" + "---|" * (len(METRICS) + 1))
        for label, metrics in rows.items():
            ok = label.startswith("hybrid") and all(
                metrics[m] >= best_single[m] for m in METRICS)
            print(f"| {label} | " + " | ".join(f"{metrics[m]:.3f}" for m in METRICS)
                  + f" | {'*' if ok else ''} |")
    return report


if __name__ == "__main__":
    sys.exit(main())
