#!/usr/bin/env python3
"""Build benchmark on a real catalog, side by side in one run, same bundled model, same
machine: ours (the default through the ONNX export in OpenVINO bf16, fp32, torch), the
incremental rebuilds after a 1% change, int8 variants for the record (dynamic with
onnxruntime, static with OpenVINO/NNCF), and the plain tutorial baseline
(SentenceTransformer.encode + IndexFlatL2). Each faster path's vectors are checked
against torch's: the share of every film's 10 nearest films that agree.

    python scripts/bench_build.py                       # ../shared/datasets/netflix_titles.csv
    python scripts/bench_build.py --out bench-results/build.json

Prints a table and writes the figures to JSON. Needs `pip install -e '.[bench]'` (nncf).
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
from benchlib import NETFLIX, load_netflix, quantize_int8, quantize_static_int8, save_report

from recommender.catalog.films import Catalog
from recommender.embedding.embedder import Embedder
from recommender.embedding.factory import resolve_model_location
from recommender.index.build import build_index
from recommender.index.store import load_index


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
    vectors = {}
    with tempfile.TemporaryDirectory() as tmp:
        # torch all the way (`recommender build --no-onnx`), and its incremental rebuild
        out = Path(tmp) / "idx"
        full = build_index(catalog, embedder, out, progress=False, reuse=False)
        rows["ours: full build (torch, --no-onnx)"] = (full.seconds, full.embedded)
        vectors["torch"] = load_index(full.path).faiss_index.reconstruct_n(0, n)
        edited = changed(catalog, args.change)
        incremental = build_index(edited, embedder, out, progress=False)
        rows[f"ours: rebuild after a {args.change:.0%} change (torch)"] = (
            incremental.seconds, incremental.embedded)

        # the default: the ONNX export made first (counted), embedded by OpenVINO in bf16
        fast_out = Path(tmp) / "fast"
        fast_embedder = Embedder().load()
        fast = build_index(catalog, fast_embedder, fast_out, progress=False, reuse=False,
                           export_onnx=True)
        precision = load_index(fast.path).manifest["embeddings"]["precision"]
        rows[f"ours: full build (default: export + OpenVINO {precision})"] = (
            fast.seconds, fast.embedded)
        vectors[precision] = load_index(fast.path).faiss_index.reconstruct_n(0, n)
        again = build_index(catalog, fast_embedder, fast_out, progress=False, reuse=False,
                            export_onnx=True)
        rows[f"ours: full rebuild, export already made ({precision})"] = (
            again.seconds, again.embedded)
        fast_incremental = build_index(edited, fast_embedder, fast_out, progress=False,
                                       export_onnx=True)
        rows[f"ours: rebuild after a {args.change:.0%} change ({precision})"] = (
            fast_incremental.seconds, fast_incremental.embedded)

        # the same export in fp32 (`--precision fp32`)
        fp32 = build_index(catalog, Embedder().load(), Path(tmp) / "fp32", progress=False,
                           reuse=False, export_onnx=True, precision="fp32")
        rows["ours: full build (export + OpenVINO fp32, --precision fp32)"] = (
            fp32.seconds, fp32.embedded)
        fp32_index = load_index(fp32.path)
        vectors["fp32 export"] = fp32_index.faiss_index.reconstruct_n(0, n)

        # dynamic int8 from that export: measured for the record; under the quality
        # guard, so not used (benchlib.quantize_int8)
        int8_embedder = Embedder(torch_threads=os.cpu_count()).load()
        t0 = time.perf_counter()
        dynamic = int8_embedder.for_export(
            quantize_int8(fp32_index.query_model_path, Path(tmp) / "int8.onnx"))
        vectors["dynamic int8"] = dynamic.encode(texts)
        faiss.IndexFlatIP(vectors["dynamic int8"].shape[1]).add(vectors["dynamic int8"])
        rows["onnxruntime dynamic int8 (per-channel; quantisation included)"] = (
            time.perf_counter() - t0, n)
        # OpenVINO static int8, calibrated with NNCF on 300 synopses: also for the record
        t0 = time.perf_counter()
        static = quantize_static_int8(fp32_index.query_model_path, Path(tmp) / "static.xml",
                                      texts, int8_embedder.encoder.model.tokenizer)
        vectors["static int8"] = int8_embedder.for_export(static, "openvino", "fp32").encode(texts)
        rows["OpenVINO static int8 (NNCF, calibrated; quantisation included)"] = (
            time.perf_counter() - t0, n)
    agreement = {name: top10_agreement(vectors["torch"], v)
                 for name, v in vectors.items() if name != "torch"}
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
    report["incremental_vs_full_default"] = round(fast.seconds / fast_incremental.seconds, 1)
    report["top10_agreement_with_torch"] = {k: round(v, 4) for k, v in agreement.items()}
    print(f"\nincremental rebuild after a {args.change:.0%} change: "
          f"{report['incremental_vs_full_default']}x faster than a full build (default), "
          f"{report['incremental_vs_full']}x (torch)")
    for name, share in agreement.items():
        verdict = "under the 95% quality guard: not used" if share < 0.95 else "passes"
        print(f"{name}: every film's 10 nearest films agree with the torch build's on "
              f"{share:.2%} (all {n} films); {verdict}")
    save_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
