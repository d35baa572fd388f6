"""The figures that size a deployment past one machine (docs/scaling.md): the Netflix
catalog embedded locally and on a Ray cluster in one run (wall time, films/s per actor,
the Ray overhead, agreement), and the steps that stay on the driver (the BM25 index, the
FAISS index) timed at 100k and 1M films.

    python scripts/bench_scaling.py [--sizes 100000,1000000] [--out FILE]

The cluster is a real one on this machine (ray.cluster_utils.Cluster: a head and two
worker nodes of one CPU each): on 2 cores it measures Ray's overhead and per-actor rate,
not a speed-up, which needs more machines.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_scale import vectors as clustered_vectors
from benchlib import load_netflix, save_report

from recommender.catalog.films import Catalog, Film
from recommender.embedding.embedder import Embedder
from recommender.index.ann import AnnSettings, make_faiss_index
from recommender.index.build import RayOptions, build_index
from recommender.index.lexical import LexicalIndex
from recommender.index.store import load_index


def local_vs_ray(catalog: Catalog) -> dict:
    from ray.cluster_utils import Cluster

    embedder = Embedder()
    with tempfile.TemporaryDirectory() as tmp:
        # the export made once beforehand, so both builds time the embedding alone
        build_index(Catalog(catalog.films[:8], "warm", "warm"), embedder, Path(tmp) / "l",
                    progress=False, export_onnx=True, precision="fp32")
        started = time.perf_counter()
        local = build_index(catalog, embedder, Path(tmp) / "l", progress=False,
                            export_onnx=True, precision="fp32", reuse=False)
        local_seconds = time.perf_counter() - started
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        for _ in range(2):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        try:
            (Path(tmp) / "r").mkdir()
            (Path(tmp) / "r" / "onnx").symlink_to(Path(tmp) / "l" / "onnx")
            started = time.perf_counter()
            remote = build_index(catalog, embedder, Path(tmp) / "r", progress=False,
                                 export_onnx=True, precision="fp32", reuse=False,
                                 ray=RayOptions(address=cluster.address, batch_size=64))
            ray_seconds = time.perf_counter() - started
        finally:
            cluster.shutdown()
        a = load_index(local.path).faiss_index.reconstruct_n(0, len(catalog))
        b = load_index(remote.path).faiss_index.reconstruct_n(0, len(catalog))
        manifest = load_index(remote.path).manifest["embeddings"]["ray"]
    cosine = np.sum(a * b, axis=1)
    sims_a, sims_b = a @ a.T, b @ b.T
    np.fill_diagonal(sims_a, -9)
    np.fill_diagonal(sims_b, -9)
    top_a = np.argsort(-sims_a, axis=1)[:, :10]
    top_b = np.argsort(-sims_b, axis=1)[:, :10]
    same = float(np.mean([set(x) == set(y) for x, y in zip(top_a, top_b, strict=True)]))
    embed_seconds = manifest["seconds"]
    return {"films": len(catalog), "local_build_seconds": round(local_seconds, 2),
            "local_embed_seconds": round(local.embed_seconds, 2),
            "ray_build_seconds": round(ray_seconds, 2), "ray_embed_seconds": embed_seconds,
            "actors": manifest["actors"], "nodes": manifest["nodes"],
            "films_per_second_local": round(len(catalog) / local.embed_seconds, 1),
            "films_per_second_per_actor": round(len(catalog) / embed_seconds /
                                                manifest["actors"], 1),
            "ray_overhead_seconds": round(embed_seconds - local.embed_seconds, 2),
            "min_cosine": round(float(cosine.min()), 6), "top10_identical": same}


def driver_steps(catalog: Catalog, sizes: list[int]) -> list[dict]:
    """BM25 and FAISS over n films made of the real synopses (repeated, each with its own
    id and a few words of its own) and clustered unit vectors (bench_scale.py's): what the
    driver does however many machines embed."""
    words = ["storm", "harbour", "winter", "letter", "stranger", "promise", "garden", "secret"]
    rows = []
    for n in sizes:
        films = [Film(id=f"f-{i}", title=f"F {i}",
                      synopsis=f"{catalog.films[i % len(catalog)].synopsis} "
                               f"{words[i % 8]} {words[(i // 8) % 8]} {i}")
                 for i in range(n)]
        started = time.perf_counter()
        LexicalIndex.build(films, "en")
        lexical = time.perf_counter() - started
        vectors = clustered_vectors(n)  # as real embeddings are, and as bench_scale.py
        # measures recall on (uniform random vectors are HNSW's worst case: 73.5 s at 100k)
        started = time.perf_counter()
        _, info = make_faiss_index(vectors, AnnSettings(ef_search=256, recall_sample=200))
        faiss_seconds = time.perf_counter() - started
        rows.append({"films": n, "bm25_seconds": round(lexical, 1),
                     "faiss_seconds": round(faiss_seconds, 1), "faiss": info})
        print(f"| {n:,} | {lexical:.1f} | {faiss_seconds:.1f} ({info.get('type', 'flat')}) |",
              flush=True)
        del films, vectors
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--out", default="bench-results/scaling.json")
    args = parser.parse_args()
    catalog = load_netflix()
    report: dict = {}
    if not args.skip_ray:
        row = local_vs_ray(catalog)
        report["netflix"] = row
        print("| build of the Netflix catalog (7,787 films, fp32) | seconds | films/s |\n"
              "|---|---|---|")
        print(f"| local, this process (2 cores) | {row['local_build_seconds']} "
              f"(embedding {row['local_embed_seconds']}) | {row['films_per_second_local']} |")
        print(f"| Ray, {row['nodes']} nodes x 1 CPU, {row['actors']} actors | "
              f"{row['ray_build_seconds']} (embedding {row['ray_embed_seconds']}) | "
              f"{row['films_per_second_per_actor']} per actor |")
        print(f"\nagreement: lowest per-film cosine {row['min_cosine']}, identical top-10 "
              f"for {100 * row['top10_identical']:.2f}% of films\n")
    print("| films | BM25 index s | FAISS index s |\n|---|---|---|")
    report["driver"] = driver_steps(catalog, [int(s) for s in args.sizes.split(",")])
    save_report(args.out, report)


if __name__ == "__main__":
    main()
