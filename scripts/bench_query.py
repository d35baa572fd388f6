#!/usr/bin/env python3
"""Query benchmark over HTTP through real servers: p50/p99 latency and requests per
second for "more like this film" and free-text search, at 1 and 8 concurrent clients:
ours (gunicorn) against txtai's API (uvicorn) and ChromaDB's server (`chroma run`),
same catalog, same bundled model, same machine, one run.

    python scripts/bench_query.py                      # the Netflix catalog; needs .[bench]
    python scripts/bench_query.py --requests 400 --no-peers --out bench-results/query.json

Clients keep their connection open (HTTP keep-alive), as an application's HTTP pool
does; each row sends a bounded number of requests, none repeated, caches off.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from benchlib import NETFLIX, distinct_queries, load_netflix, save_report

from recommender.catalog.films import Catalog
from recommender.catalog.titles import normalize_title
from recommender.embedding.embedder import Embedder
from recommender.embedding.factory import resolve_model_location
from recommender.index.build import build_index
from tests.ops import call, free_port, running_server

# peers' servers embed with torch: one thread per worker, as ours (no oversubscription)
PEER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
            "ANONYMIZED_TELEMETRY": "False"}


def run(send: Callable[[str], None], items: list[str], clients: int) -> dict[str, float]:
    """Send every item once from ``clients`` threads; latency per request, and the rate."""
    def one(item: str) -> float:
        t0 = time.perf_counter()
        send(item)
        return time.perf_counter() - t0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = sorted(pool.map(one, items))
    elapsed = time.perf_counter() - t0
    return {"p50_ms": round(1000 * statistics.median(latencies), 2),
            "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
            "requests_per_second": round(len(items) / elapsed, 1), "requests": len(items)}


def getter(base: str) -> Callable[[str], bytes]:
    """GET a path on ``base`` over one kept-open connection per client thread."""
    url = urllib.parse.urlsplit(base)
    host, port = url.hostname, url.port
    local = threading.local()

    def get(path: str) -> bytes:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            local.conn.request("GET", path)
            response = local.conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            local.conn.close()  # a half-used connection can't send again
            del local.conn
            raise
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
        return body

    return get


def wait_until(get: Callable[[str], bytes], path: str, proc: subprocess.Popen,
               timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            get(path)
            return
        except (OSError, RuntimeError, http.client.HTTPException):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{proc.args[0]} did not start (exit {proc.poll()})") from None
            time.sleep(0.5)


@contextmanager
def started(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=out,
                                stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def measure(report: dict, system: str, kinds: dict[str, tuple[Callable[[str], None], list[str]]],
            warm: Callable[[], None]) -> None:
    warm()
    for clients in (1, 8):
        for kind, (send, items) in kinds.items():
            row = run(send, items, clients)
            report["rows"][f"{system} | {kind} | {clients}"] = row
            print(f"| {system} | `{kind}` | {clients} | {row['p50_ms']} | {row['p99_ms']} | "
                  f"{row['requests_per_second']} |", flush=True)


def ours(report: dict, catalog: Catalog, tmp: Path, n: int, workers: int,
         queries: list[str], probes: list[str], titles: list[str]) -> None:
    build_index(catalog, Embedder(), tmp / "ours", progress=False, export_onnx=True)
    env = {"RECOMMENDER_QUERY_CACHE_SIZE": "0"}  # every /search pays for the model
    with running_server(tmp / "ours", workers=workers, env=env) as (base, _):
        # a new version's more-like-this table is made after the swap (the pipeline answers
        # meanwhile): measure what a server answers once it has it, on every worker
        deadline, streak = time.monotonic() + 300, 0
        while streak < 10 and time.monotonic() < deadline:
            streak = streak + 1 if call(base + "/admin/status")[1].get("similar_table") else 0
            time.sleep(0.2)
        get = getter(base)
        kinds = {
            "/similar?title=": (get, ["/similar?" + urllib.parse.urlencode(
                {"title": titles[i % len(titles)], "k": 10}) for i in range(n)]),
            "/films/{id}/similar": (get, [f"/films/{i}/similar?k=10" for i in probes]),
            "/search?q=": (get, ["/search?" + urllib.parse.urlencode({"q": q, "k": 10})
                                 for q in queries]),
        }
        measure(report, "ours", kinds, lambda: run(get, kinds["/search?q="][1][:20], 2))


def txtai(report: dict, catalog: Catalog, tmp: Path, workers: int, queries: list[str],
          probes: list[str]) -> None:
    """txtai's own API (FastAPI under uvicorn) over an Embeddings index it saved."""
    from txtai import Embeddings

    texts = {f.id: f.synopsis for f in catalog.films}
    embeddings = Embeddings(path=resolve_model_location("all-MiniLM-L6-v2"), content=True,
                            backend="faiss")
    embeddings.index((i, t, None) for i, t in texts.items())
    embeddings.save(str(tmp / "txtai"))
    # JSON is YAML; an "embeddings" entry is what turns on the API's search routes
    (tmp / "txtai.yml").write_text(json.dumps({"path": str(tmp / "txtai"), "embeddings": {}}))
    port = free_port()
    with started([sys.executable, "-m", "uvicorn", "txtai.api:app", "--host", "127.0.0.1",
                  "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
                 {**PEER_ENV, "CONFIG": str(tmp / "txtai.yml")}, tmp / "txtai.log") as proc:
        get = getter(f"http://127.0.0.1:{port}")
        wait_until(get, "/search?query=warm&limit=1", proc)

        def search(path: str) -> None:
            get(path)

        kinds = {
            # txtai has no "films like this id": its text is searched for again
            "more like this (text)": (search, ["/search?" + urllib.parse.urlencode(
                {"query": texts[i], "limit": 11}) for i in probes]),
            "/search?query=": (search, ["/search?" + urllib.parse.urlencode(
                {"query": q, "limit": 10}) for q in queries]),
        }
        measure(report, "txtai 9.14 API", kinds,
                lambda: run(search, kinds["/search?query="][1][:20], 2))


def chroma(report: dict, catalog: Catalog, tmp: Path, queries: list[str],
           probes: list[str]) -> None:
    """ChromaDB's server (`chroma run`) and its HTTP client, which embeds the query text."""
    import chromadb
    from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

    port = free_port()
    chroma_cli = str(Path(sys.executable).parent / "chroma")
    with started([chroma_cli, "run", "--path", str(tmp / "chroma"), "--port", str(port)],
                 PEER_ENV, tmp / "chroma.log") as proc:
        deadline = time.monotonic() + 60
        while True:
            try:
                client = chromadb.HttpClient(host="127.0.0.1", port=port,
                                             settings=chromadb.config.Settings(
                                                 anonymized_telemetry=False))
                client.heartbeat()
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chroma run did not start (exit {proc.poll()})") from None
                time.sleep(0.5)
        ef = SentenceTransformerEmbeddingFunction(
            model_name=resolve_model_location("all-MiniLM-L6-v2"), device="cpu")
        collection = client.create_collection("films", embedding_function=ef,
                                              metadata={"hnsw:space": "cosine"})
        films = catalog.films
        for start in range(0, len(films), 1000):
            batch = films[start:start + 1000]
            collection.add(ids=[f.id for f in batch], documents=[f.synopsis for f in batch])

        def similar(film_id: str) -> None:  # two round trips: its vector, then the query
            vector = collection.get(ids=[film_id], include=["embeddings"])["embeddings"][0]
            collection.query(query_embeddings=[vector], n_results=11)

        def search(q: str) -> None:  # the client embeds, the server searches
            collection.query(query_texts=[q], n_results=10)

        kinds = {"more like this (get + query)": (similar, probes),
                 "query(query_texts)": (search, queries)}
        measure(report, "ChromaDB 1.5 server", kinds, lambda: run(search, queries[:20], 2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", default=str(NETFLIX))
    parser.add_argument("--requests", type=int, default=300, help="requests per row")
    parser.add_argument("--workers", type=int, default=2, help="server processes, each system")
    parser.add_argument("--no-peers", action="store_true", help="ours only")
    parser.add_argument("--out", default="bench-results/query.json")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    catalog = load_netflix(args.catalog)
    n = args.requests
    step = max(1, len(catalog.films) // n)
    probes = [f.id for f in catalog.films][::step][:n]  # distinct films
    named = Counter(normalize_title(f.title) for f in catalog.films)
    titles = [f.title for f in catalog.films if named[normalize_title(f.title)] == 1][::step][:n]
    queries = distinct_queries(n)
    report: dict = {"films": len(catalog.films), "catalog": args.catalog,
                    "cores": os.cpu_count(), "workers": args.workers, "rows": {}}
    print(f"{report['films']} films, {args.workers} server processes each, {os.cpu_count()} "
          f"cores, {n} requests a row, keep-alive clients, caches off\n")
    print("| system | query | clients | p50 ms | p99 ms | requests/s |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        ours(report, catalog, Path(tmp), n, args.workers, queries, probes, titles)
        if not args.no_peers:
            txtai(report, catalog, Path(tmp), args.workers, queries, probes)
            chroma(report, catalog, Path(tmp), queries, probes)
    for clients in (1, 8):
        ratio = report["rows"][f"ours | /search?q= | {clients}"]["p50_ms"] / \
            report["rows"][f"ours | /films/{{id}}/similar | {clients}"]["p50_ms"]
        report[f"search_over_similar_p50_x{clients}"] = round(ratio, 1)
        print(f"\nours: /search p50 / /films/{{id}}/similar p50 at {clients} client(s): "
              f"{ratio:.1f}x")
    save_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
