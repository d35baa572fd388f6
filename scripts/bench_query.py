#!/usr/bin/env python3
"""Query benchmark over HTTP through the real server: p50/p99 latency and requests per
second for /similar (by title, and by id) and /search, at 1 and 8 concurrent clients.

    python scripts/bench_query.py                      # the Netflix catalog
    python scripts/bench_query.py --requests 400 --out bench-results/query.json

It builds the catalog into a temporary index, starts `recommender serve` on a free
loopback port, and sends a bounded number of requests per row.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchlib import NETFLIX, distinct_queries, load_netflix, save_report

from recommender.build import build_index
from recommender.embedding import Embedder
from tests.ops import running_server


def run(urls: list[str], clients: int) -> dict[str, float]:
    def one(url: str) -> float:
        t0 = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as r:
            r.read()
            assert r.status == 200
        return time.perf_counter() - t0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = sorted(pool.map(one, urls))
    elapsed = time.perf_counter() - t0
    return {"p50_ms": round(1000 * statistics.median(latencies), 2),
            "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
            "requests_per_second": round(len(urls) / elapsed, 1), "requests": len(urls)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", default=str(NETFLIX))
    parser.add_argument("--requests", type=int, default=300, help="requests per row")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="bench-results/query.json")
    args = parser.parse_args()
    catalog = load_netflix(args.catalog)
    titles = [f.title for f in catalog.films if f.title.isascii()][:2000:20]
    ids = [f.id for f in catalog.films][:2000:20]
    report: dict = {"films": len(catalog.films), "catalog": args.catalog,
                    "cores": os.cpu_count(), "workers": args.workers, "rows": {}}
    with tempfile.TemporaryDirectory() as tmp:
        build_index(catalog, Embedder(), Path(tmp), progress=False, export_onnx=True)
        # the query cache is off: every /search request pays for the model
        env = {"RECOMMENDER_QUERY_CACHE_SIZE": "0"}
        with running_server(Path(tmp), workers=args.workers, env=env) as (base, _):
            n = args.requests
            queries = distinct_queries(n)
            kinds = {
                "/similar?title=": [f"{base}/similar?" + urllib.parse.urlencode(
                    {"title": titles[i % len(titles)], "k": 10}) for i in range(n)],
                "/films/{id}/similar": [f"{base}/films/{ids[i % len(ids)]}/similar?k=10"
                                        for i in range(n)],
                "/search?q=": [f"{base}/search?" + urllib.parse.urlencode(
                    {"q": q, "k": 10}) for q in queries],
            }
            run(kinds["/search?q="][:20], 2)  # warm up both workers
            for clients in (1, 8):
                for kind, urls in kinds.items():
                    report["rows"][f"{kind} x{clients}"] = run(urls, clients)
    print(f"{report['films']} films, {args.workers} gunicorn workers, {os.cpu_count()} cores, "
          f"{args.requests} requests a row, query cache off\n")
    print("| route | clients | p50 ms | p99 ms | requests/s |")
    print("|---|---|---|---|---|")
    for name, row in report["rows"].items():
        kind, clients = name.rsplit(" x", 1)
        print(f"| `{kind}` | {clients} | {row['p50_ms']} | {row['p99_ms']} | "
              f"{row['requests_per_second']} |")
    for clients in (1, 8):
        ratio = report["rows"][f"/search?q= x{clients}"]["p50_ms"] / \
            report["rows"][f"/films/{{id}}/similar x{clients}"]["p50_ms"]
        report[f"search_over_similar_p50_x{clients}"] = round(ratio, 1)
        print(f"\n/search p50 / /films/{{id}}/similar p50 at {clients} client(s): {ratio:.1f}x")
    save_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
