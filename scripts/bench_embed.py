#!/usr/bin/env python3
"""Free-text query embedding: torch (sentence-transformers) against the ONNX export
(onnxruntime), one query at a time, and whether they find the same films.

    python scripts/bench_embed.py                  # Netflix catalog, 300 queries
    python scripts/bench_embed.py --out bench-results/embed.json

Top-10 agreement: for each query, the share of the torch path's 10 nearest films
(exact search over the catalog) that the ONNX path's vector also returns.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from benchlib import NETFLIX, distinct_queries, load_netflix, quantize_int8, save_report

from recommender.embedding.embedder import Embedder
from recommender.index.build import build_index
from recommender.index.store import load_index


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", default=str(NETFLIX))
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1, help="threads per query, as a worker")
    parser.add_argument("--out", default="bench-results/embed.json")
    args = parser.parse_args()
    catalog = load_netflix(args.catalog)
    queries = distinct_queries(args.queries)
    torch_path = Embedder(query_cache_size=0, torch_threads=args.threads).load()
    model = Embedder(query_cache_size=0, torch_threads=args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        build_index(catalog, Embedder(), tmp, progress=False, export_onnx=True)
        index = load_index(tmp)
        onnx_path = model.for_export(index.query_model_path)
        int8_path = model.for_export(quantize_int8(index.query_model_path,
                                                   Path(tmp) / "int8.onnx"))
        vectors = index.faiss_index.reconstruct_n(0, len(index))

        def p50(embedder: Embedder) -> tuple[float, np.ndarray]:
            times, out = [], []
            for q in queries:
                t0 = time.perf_counter()
                out.append(embedder.encode_query(q))
                times.append(time.perf_counter() - t0)
            return 1000 * statistics.median(times), np.stack(out)

        p50(torch_path), p50(onnx_path), p50(int8_path)  # warm them all
        torch_ms, torch_vectors = p50(torch_path)
        onnx_ms, onnx_vectors = p50(onnx_path)
        int8_ms, int8_vectors = p50(int8_path)
    top_torch = np.argsort(-(torch_vectors @ vectors.T), axis=1)[:, :10]

    def compare(other: np.ndarray) -> tuple[float, float]:
        """(top-10 agreement, share of queries with the identical top-10) against torch."""
        top = np.argsort(-(other @ vectors.T), axis=1)[:, :10]
        pairs = list(zip(top_torch, top, strict=True))
        return (float(np.mean([len(set(a) & set(b)) / 10 for a, b in pairs])),
                float(np.mean([list(a) == list(b) for a, b in pairs])))

    agreement, identical = compare(onnx_vectors)
    int8_agreement, int8_identical = compare(int8_vectors)
    cosine = float(np.min(np.sum(torch_vectors * onnx_vectors, axis=1)))
    print(f"{len(queries)} queries against {len(catalog.films)} films; {args.threads} thread(s); "
          f"{os.cpu_count()} cores\n")
    print("| query embedding | p50 ms | speed-up | top-10 agreement | identical top-10 |")
    print("|---|---|---|---|---|")
    print(f"| torch (sentence-transformers) | {torch_ms:.2f} | 1.00x | | |")
    print(f"| ONNX fp32 (onnxruntime) | {onnx_ms:.2f} | {torch_ms / onnx_ms:.2f}x | "
          f"{agreement:.1%} | {identical:.1%} |")
    print(f"| ONNX int8 (dynamic, per-channel; not used) | {int8_ms:.2f} | "
          f"{torch_ms / int8_ms:.2f}x | {int8_agreement:.1%} | {int8_identical:.1%} |")
    print(f"\nlowest cosine between the two paths' vectors: {cosine:.6f}")
    save_report(args.out, {
        "queries": len(queries), "films": len(catalog.films), "threads": args.threads,
        "torch_p50_ms": round(torch_ms, 3), "onnx_p50_ms": round(onnx_ms, 3),
        "speedup": round(torch_ms / onnx_ms, 2), "top10_agreement": round(agreement, 4),
        "identical_top10": round(identical, 4), "min_cosine": round(cosine, 6),
        "int8_p50_ms": round(int8_ms, 3), "int8_speedup": round(torch_ms / int8_ms, 2),
        "int8_top10_agreement": round(int8_agreement, 4),
        "int8_identical_top10": round(int8_identical, 4)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
