#!/usr/bin/env python3
"""Scale benchmark on synthetic 384-dimensional unit vectors: for each size, exact
search (IndexFlatIP) against the HNSW index the build switches to above its
threshold, and IVF (IndexIVFFlat) as the other candidate — build time, index
memory, p50 query time in-process, recall@10.

    python scripts/bench_scale.py --sizes 100000            # about two minutes here
    python scripts/bench_scale.py --sizes 100000,1000000    # 1M: HNSW build takes long
    python scripts/bench_scale.py --sizes 100000 --netflix  # and the real catalog's vectors

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

from recommender.index.ann import AnnSettings, make_faiss_index  # noqa: E402

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


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)]))


def one_thread_times(index, queries: np.ndarray) -> tuple[float, np.ndarray]:
    """p50 and results, one query at a time on one thread, as a server worker answers."""
    faiss.omp_set_num_threads(1)
    try:
        return query_times(index, queries)
    finally:
        faiss.omp_set_num_threads(os.cpu_count() or 1)


def compare(x: np.ndarray, queries: np.ndarray, ef_search: str,
            nprobes: list[int]) -> tuple[list[tuple], float]:
    """Exact, HNSW (as the build makes it) and IVF on ``x``: (name, index, build s,
    p50 ms, recall@10) rows, and the recall the build measured for its efSearch."""
    n = len(x)
    t0 = time.perf_counter()
    flat, _ = make_faiss_index(x, AnnSettings(threshold=n + 1))
    flat_build = time.perf_counter() - t0
    flat_p50, truth = one_thread_times(flat, queries)
    rows: list[tuple] = [("IndexFlatIP", flat, flat_build, flat_p50, 1.0)]
    t0 = time.perf_counter()
    hnsw, info = make_faiss_index(x, AnnSettings(threshold=1, recall_sample=1000))
    hnsw_build = time.perf_counter() - t0
    efs = [int(hnsw.hnsw.efSearch)] if ef_search == "auto" else \
        [int(e) for e in ef_search.split(",")]
    for ef in efs:
        hnsw.hnsw.efSearch = ef
        p50, found = one_thread_times(hnsw, queries)
        rows.append((f"IndexHNSWFlat efSearch={ef}", hnsw, hnsw_build, p50, recall(found, truth)))
    if nprobes:
        t0 = time.perf_counter()
        nlist = int(4 * np.sqrt(n))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(3).choice(n, min(n, 64 * nlist), replace=False)
        ivf.cp.min_points_per_centroid = 1  # a small real catalog has few points per list
        ivf.train(x[sample])
        ivf.add(x)
        ivf_build = time.perf_counter() - t0
        for nprobe in nprobes:
            ivf.nprobe = nprobe
            p50, found = one_thread_times(ivf, queries)
            rows.append((f"IndexIVFFlat nlist={nlist} nprobe={nprobe}", ivf, ivf_build, p50,
                         recall(found, truth)))
    return rows, info["recall_at_10"]


def midpoints(x: np.ndarray, count: int) -> np.ndarray:
    """Queries between two films, as the build's recall sample (a film itself is too easy)."""
    rng = np.random.default_rng(2)
    q = x[rng.choice(len(x), count)] + x[rng.choice(len(x), count)]
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--ef-search", default="auto",
                        help="comma-separated efSearch values to measure on one HNSW build; "
                        "auto: the one the build picks for recall@10 >= 0.95")
    parser.add_argument("--nprobe", default="16,32,64,128",
                        help="comma-separated IVF nprobe values to measure on one IVF build "
                        "(nlist = 4 * sqrt(films)); empty: no IVF")
    parser.add_argument("--netflix", action="store_true",
                        help="also the Netflix catalog's real vectors (built first), with "
                        "queries between two films")
    parser.add_argument("--out", default="bench-results/scale.json")
    args = parser.parse_args()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    nprobes = [int(p) for p in args.nprobe.split(",") if p]
    report: dict = {"dim": DIM, "cores": os.cpu_count(), "rows": {}}
    print("| films | vectors | queries | index | build s | memory MB | p50 query ms | recall@10 |")
    print("|---|---|---|---|---|---|---|---|")
    cases = []
    for n in [int(s) for s in args.sizes.split(",") if s]:
        x = vectors(n)
        rng = np.random.default_rng(1)
        near = x[rng.choice(n, args.queries, replace=False)] + \
            0.05 * rng.normal(size=(args.queries, DIM)).astype(np.float32)
        near /= np.linalg.norm(near, axis=1, keepdims=True)
        cases.append((n, "synthetic", "near a film", x, near))
    if args.netflix:
        x = netflix_vectors()
        cases.append((len(x), "Netflix", "between two films", x, midpoints(x, args.queries)))
    for n, kind, asked, x, queries in cases:
        rows, at_build = compare(x, queries, args.ef_search, nprobes)
        for name, index, build, p50, rec in rows:
            mb = len(faiss.serialize_index(index)) / 2**20
            print(f"| {n:,} | {kind} | {asked} | {name} | {build:.1f} | {mb:.0f} | {p50:.3f} | "
                  f"{rec:.3f} |")
            report["rows"][f"{n} {kind} {name}"] = {
                "films": n, "vectors": kind, "queries": asked, "index": name,
                "build_seconds": round(build, 2), "memory_mb": round(mb, 1),
                "p50_query_ms": round(p50, 4), "recall_at_10": round(rec, 4)}
        report["rows"][f"{n} {kind} {rows[1][0]}"]["recall_at_build"] = at_build
    print()
    save_report(args.out, report)
    return 0


def netflix_vectors() -> np.ndarray:
    """The Netflix catalog embedded as `recommender build` does it."""
    import tempfile

    from benchlib import load_netflix

    from recommender.embedding.embedder import Embedder
    from recommender.index.build import build_index
    from recommender.index.store import load_index

    with tempfile.TemporaryDirectory() as tmp:
        build_index(load_netflix(), Embedder(), tmp, progress=False, export_onnx=True)
        index = load_index(tmp)
        return index.faiss_index.reconstruct_n(0, len(index))


if __name__ == "__main__":
    sys.exit(main())
