#!/usr/bin/env python3
"""Build benchmark on a real catalog: a full build, an incremental rebuild after a 1%
change, and the plain tutorial baseline (SentenceTransformer.encode + IndexFlatL2),
side by side in one run, same bundled model, same machine.

    python scripts/bench_build.py                       # ../shared/datasets/netflix_titles.csv
    python scripts/bench_build.py --out bench-results/build.json

Prints a table and writes the figures to JSON.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
from benchlib import NETFLIX, load_netflix, quantize_int8, save_report

from recommender.build import build_index
from recommender.catalog import Catalog
from recommender.embedding import Embedder, resolve_model_location
from recommender.index import load_index


def changed(catalog: Catalog, share: float) -> Catalog:
    """The catalog with ``share`` of its synopses edited (every 1/share-th film)."""
    step = max(1, round(1 / share))
    films = [f if i % step else type(f)(**{**f.__dict__, "synopsis": f.synopsis + " (revised)"})
             for i, f in enumerate(catalog.films)]
    return Catalog(films=films, source=catalog.source, sha256=catalog.sha256 + "-changed")


def top10_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Mean share of each film's 10 nearest films (itself left out) that both agree on."""
    def neighbours(x: np.ndarray) -> np.ndarray:
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(x)
        return index.search(x, 11)[1][:, 1:]

    return float(np.mean([len(set(p) & set(q)) / 10
                          for p, q in zip(neighbours(a), neighbours(b), strict=True)]))


def baseline(texts: list[str]) -> float:
    """What most tutorials do: encode everything, put it in an IndexFlatL2."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_model_location("all-MiniLM-L6-v2"), device="cpu")
    t0 = time.perf_counter()
    vectors = model.encode(texts, batch_size=64, convert_to_numpy=True)
    index = faiss.IndexFlatL2(vectors.shape[1])
    index.add(vectors)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", default=str(NETFLIX))
    parser.add_argument("--change", type=float, default=0.01, help="share of films changed")
    parser.add_argument("--out", default="bench-results/build.json")
    args = parser.parse_args()
    catalog = load_netflix(args.catalog)
    texts = [f.synopsis for f in catalog.films]
    n = len(catalog.films)
    embedder = Embedder().load()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "idx"
        full = build_index(catalog, embedder, out, progress=False, reuse=False)
        rows["ours: full build (torch)"] = (full.seconds, full.embedded)
        edited = changed(catalog, args.change)
        incremental = build_index(edited, embedder, out, progress=False)
        rows[f"ours: rebuild after a {args.change:.0%} change"] = (incremental.seconds,
                                                                   incremental.embedded)
        torch_vectors = load_index(full.path).faiss_index.reconstruct_n(0, n)
        # through the ONNX export (made first, offline, and counted in the time)
        fast_out = Path(tmp) / "fast"
        fast_embedder = Embedder().load()
        fast = build_index(catalog, fast_embedder, fast_out, progress=False, reuse=False,
                           export_onnx=True)
        rows["ours: full build (ONNX, export included)"] = (fast.seconds, fast.embedded)
        fast_incremental = build_index(edited, fast_embedder, fast_out, progress=False,
                                       export_onnx=True)
        rows[f"ours: rebuild after a {args.change:.0%} change (ONNX)"] = (
            fast_incremental.seconds, fast_incremental.embedded)
        fast_index = load_index(fast.path)
        onnx_vectors = fast_index.faiss_index.reconstruct_n(0, n)
        # dynamic int8 from that export: measured for the record; under the quality
        # guard, so not used (benchlib.quantize_int8)
        int8_embedder = Embedder(torch_threads=os.cpu_count()).load()
        t0 = time.perf_counter()
        int8_embedder.use_onnx(quantize_int8(fast_index.query_model_path, Path(tmp) / "int8.onnx"))
        int8_vectors = int8_embedder.encode([f.synopsis for f in catalog.films])
        faiss_index = faiss.IndexFlatIP(int8_vectors.shape[1])
        faiss_index.add(int8_vectors)
        rows["ONNX int8 (dynamic, per-channel; quantisation included)"] = (
            time.perf_counter() - t0, n)
    agreement = top10_agreement(torch_vectors, onnx_vectors)
    int8_agreement = top10_agreement(torch_vectors, int8_vectors)
    rows["baseline: encode + IndexFlatL2"] = (baseline(texts), len(texts))
    print(f"{n} films from {args.catalog}; model all-MiniLM-L6-v2 (loaded beforehand); "
          f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}\n")
    print("| build | seconds | films embedded | films/s (catalog) | vs baseline |")
    print("|---|---|---|---|---|")
    base = rows["baseline: encode + IndexFlatL2"][0]
    report = {"films": n, "catalog": args.catalog, "cores": os.cpu_count(), "rows": {}}
    for name, (seconds, embedded) in rows.items():
        print(f"| {name} | {seconds:.2f} | {embedded} | {n / seconds:.0f} | "
              f"{base / seconds:.2f}x |")
        report["rows"][name] = {"seconds": round(seconds, 3), "embedded": embedded,
                                "films_per_second": round(n / seconds, 1),
                                "speedup_vs_baseline": round(base / seconds, 2)}
    report["incremental_vs_full"] = round(full.seconds / incremental.seconds, 1)
    report["incremental_vs_full_onnx"] = round(fast.seconds / fast_incremental.seconds, 1)
    report["onnx_top10_agreement"] = round(agreement, 4)
    report["int8_top10_agreement"] = round(int8_agreement, 4)
    print(f"\nincremental rebuild: {report['incremental_vs_full']}x faster than a full build "
          f"(torch), {report['incremental_vs_full_onnx']}x (ONNX, as `recommender build`)")
    print(f"ONNX build: every film's 10 nearest films agree with the torch build's on "
          f"{agreement:.2%} (averaged over all {n} films)")
    print(f"ONNX int8: {int8_agreement:.2%}, under the 95% quality guard: not used")
    save_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
