#!/usr/bin/env python3
"""Scale benchmark on synthetic 384-dimensional unit vectors: for each size, exact
search (IndexFlatIP) against the HNSW index the build switches to above its
threshold — build time, index memory, p50 query time in-process, recall@10.

    python scripts/bench_scale.py --sizes 100000            # about two minutes here
    python scripts/bench_scale.py --sizes 100000,1000000    # 1M: HNSW build takes long

Synthetic vectors are clustered (like real embeddings, unlike uniform noise).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import save_report  # noqa: E402

from recommender.index import AnnSettings, make_faiss_index  # noqa: E402

DIM = 384


def vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(16, n // 500), DIM)).astype(np.float32)
    x = centres[rng.integers(len(centres), size=n)] + \
        0.35 * rng.normal(size=(n, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def query_times(index, queries: np.ndarray, k: int = 10) -> tuple[float, np.ndarray]:
    times, found = [], []
    for q in queries:
        t0 = time.perf_counter()
        _, rows = index.search(q.reshape(1, -1), k)
        times.append(time.perf_counter() - t0)
        found.append(rows[0])
    return statistics.median(times) * 1000, np.array(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--ef-search", default="auto",
                        help="comma-separated efSearch values to measure on one HNSW build; "
                        "auto: the one the build picks for recall@10 >= 0.95")
    parser.add_argument("--out", default="bench-results/scale.json")
    args = parser.parse_args()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    report: dict = {"dim": DIM, "cores": os.cpu_count(), "rows": {}}
    print("| films | index | build s | memory MB | p50 query ms | recall@10 |")
    print("|---|---|---|---|---|---|")
    for n in [int(s) for s in args.sizes.split(",")]:
        x = vectors(n)
        rng = np.random.default_rng(1)
        queries = x[rng.choice(n, args.queries, replace=False)] + \
            0.05 * rng.normal(size=(args.queries, DIM)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        t0 = time.perf_counter()
        flat, _ = make_faiss_index(x, AnnSettings(threshold=n + 1))
        flat_build = time.perf_counter() - t0
        faiss.omp_set_num_threads(1)  # one query at a time, as a server worker answers
        flat_p50, truth = query_times(flat, queries)
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        t0 = time.perf_counter()
        hnsw, info = make_faiss_index(x, AnnSettings(threshold=1, recall_sample=1000))
        hnsw_build = time.perf_counter() - t0
        measured = [("IndexFlatIP", flat, flat_build, flat_p50, 1.0)]
        efs = [int(hnsw.hnsw.efSearch)] if args.ef_search == "auto" else \
            [int(e) for e in args.ef_search.split(",")]
        for ef in efs:
            hnsw.hnsw.efSearch = ef
            faiss.omp_set_num_threads(1)
            hnsw_p50, found = query_times(hnsw, queries)
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            recall = float(np.mean([len(set(a) & set(b)) / 10
                                    for a, b in zip(found, truth, strict=True)]))
            measured.append((f"IndexHNSWFlat efSearch={ef}", hnsw, hnsw_build, hnsw_p50, recall))
        for name, index, build, p50, rec in measured:
            mb = len(faiss.serialize_index(index)) / 2**20
            print(f"| {n:,} | {name} | {build:.1f} | {mb:.0f} | {p50:.3f} | {rec:.3f} |")
            report["rows"][f"{n} {name}"] = {"films": n, "index": name,
                                             "build_seconds": round(build, 2),
                                             "memory_mb": round(mb, 1),
                                             "p50_query_ms": round(p50, 4),
                                             "recall_at_10": round(rec, 4)}
        report["rows"][f"{n} {measured[1][0]}"]["recall_at_build"] = info["recall_at_10"]
    print()
    save_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
