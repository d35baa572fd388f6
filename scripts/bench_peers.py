#!/usr/bin/env python3
"""Ours against txtai and ChromaDB, same catalog, same bundled model, same machine,
one run: build rate, and the in-process query path for free text (embed + search)
and for "more like this film".

    python scripts/bench_peers.py                 # the Netflix catalog; needs .[bench]
    python scripts/bench_peers.py --out bench-results/peers.json

Each system is timed from catalog texts to a searchable index, with the model
already loaded (loading it is the same for all three).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchlib import NETFLIX, distinct_queries, load_netflix, save_report

from recommender.config import Settings
from recommender.embedding.embedder import Embedder
from recommender.embedding.factory import resolve_model_location
from recommender.index.build import build_index
from recommender.index.store import load_index
from recommender.search.engine import Engine
from recommender.search.query import QueryOptions


def p50_ms(fn, items) -> float:
    times = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - t0)
    return round(1000 * statistics.median(times), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", default=str(NETFLIX))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", default="bench-results/peers.json")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    import faiss

    # as in a server worker (recommender.server): FAISS doesn't spin threads against
    # torch's for one query at a time. txtai searches with FAISS too, so it gets the same.
    faiss.omp_set_num_threads(1)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    catalog = load_netflix(args.catalog)
    films = catalog.films
    texts = [f.synopsis for f in films]
    ids = [f.id for f in films]
    queries = distinct_queries(args.queries)
    probes = ids[:: max(1, len(ids) // args.queries)][: args.queries]
    model_dir = resolve_model_location("all-MiniLM-L6-v2")
    rows: dict[str, dict] = {}

    with tempfile.TemporaryDirectory() as tmp:
        # ours, as `recommender build` does it: the ONNX export made first (timed too)
        embedder = Embedder(query_cache_size=0).load()
        t0 = time.perf_counter()
        build_index(catalog, embedder, Path(tmp) / "ours", progress=False, reuse=False,
                    export_onnx=True)
        build = time.perf_counter() - t0
        ours = load_index(Path(tmp) / "ours")
        # queries through the export; torch's thread setting is left alone, since
        # txtai and ChromaDB embed with torch in this same process
        engine = Engine(ours, embedder.for_export(ours.query_model_path), Settings())
        rows["ours (hybrid)"] = {
            "build_s": build,
            "search_p50_ms": p50_ms(lambda q: engine.search(q, QueryOptions(k=10)), queries),
            "similar_p50_ms": p50_ms(lambda i: engine.similar(i, QueryOptions(k=10)), probes)}
        rows["ours (semantic)"] = {
            "build_s": build,
            "search_p50_ms": p50_ms(lambda q: engine.search(
                q, QueryOptions(k=10, mode="semantic")), queries),
            "similar_p50_ms": p50_ms(lambda i: engine.similar(
                i, QueryOptions(k=10, mode="semantic")), probes)}

        # txtai: Embeddings over faiss, content stored, the same model directory
        from txtai import Embeddings

        tx = Embeddings(path=model_dir, content=True, backend="faiss")
        tx.index([(ids[0], texts[0], None)])  # loads the model outside the timing
        tx = Embeddings(path=model_dir, content=True, backend="faiss")
        t0 = time.perf_counter()
        tx.index((i, t, None) for i, t in zip(ids, texts, strict=True))
        build = time.perf_counter() - t0
        by_id = dict(zip(ids, texts, strict=True))
        rows["txtai 9.14"] = {
            "build_s": build,
            "search_p50_ms": p50_ms(lambda q: tx.search(q, 10), queries),
            # txtai has no "more like this id": the film's text is searched again
            "similar_p50_ms": p50_ms(lambda i: tx.search(by_id[i], 11), probes)}

        # ChromaDB: an in-memory client with a sentence-transformers embedding function
        import chromadb
        from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

        ef = SentenceTransformerEmbeddingFunction(model_name=model_dir, device="cpu")
        ef(["warm up"])
        client = chromadb.EphemeralClient(chromadb.config.Settings(anonymized_telemetry=False))
        collection = client.create_collection("films", embedding_function=ef,
                                              metadata={"hnsw:space": "cosine"})
        t0 = time.perf_counter()
        for start in range(0, len(ids), 1000):
            collection.add(ids=ids[start:start + 1000], documents=texts[start:start + 1000])
        build = time.perf_counter() - t0

        def chroma_similar(i: str) -> None:
            vector = collection.get(ids=[i], include=["embeddings"])["embeddings"][0]
            collection.query(query_embeddings=[vector], n_results=11)

        rows["ChromaDB 1.5"] = {
            "build_s": build,
            "search_p50_ms": p50_ms(lambda q: collection.query(query_texts=[q], n_results=10),
                                    queries),
            "similar_p50_ms": p50_ms(chroma_similar, probes)}

    n = len(films)
    print(f"{n} films from {args.catalog}; all-MiniLM-L6-v2 from {model_dir}; "
          f"{os.cpu_count()} cores; {args.queries} queries, in-process, one at a time\n")
    print("| system | build s | films/s | free-text query p50 ms | more-like-this p50 ms |")
    print("|---|---|---|---|---|")
    for name, row in rows.items():
        row["films_per_second"] = round(n / row["build_s"], 1)
        row["build_s"] = round(row["build_s"], 2)
        print(f"| {name} | {row['build_s']} | {row['films_per_second']} | "
              f"{row['search_p50_ms']} | {row['similar_p50_ms']} |")
    print()
    save_report(args.out, {"films": n, "cores": os.cpu_count(), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
