#!/usr/bin/env python3
"""What the rules cost, beside the same question without them.

Over HTTP, a real server on the Netflix titles with their rules' fields (built by
scripts/rules_catalog.py): the p50 of ``/films/{id}/similar`` and ``/search`` unfiltered
and with a viewer's context (``country=DK&max_age=13``) plus a three-clause expression,
as ratios; and ``POST /users/{user}/rank`` ordering 500 films for a viewer with 200
events, once the collaborative model is trained.

In-process at a million films (synthetic clustered vectors, HNSW as the build makes it at
efSearch 1024, films with made-up attributes): a filter that lets 10% through, p50 beside
the unfiltered search, recall@10 against brute force over the allowed films, and whether
k films always come back.

    python scripts/bench_rules.py --index bench-results/netflix-rules/index [--films 1000000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_scale import vectors  # noqa: E402
from benchlib import distinct_queries, save_report  # noqa: E402

from tests.ops import call, running_server  # noqa: E402

CONTEXTS = ("country=DK&max_age=13", "country=US&max_age=17")
EXPRESSION = 'kind = "film" and year >= 1990 and not genres has "Horror Movies"'
RUNS = 200


def _p50(base: str, paths: list[str]) -> float:
    times = []
    for path in paths:
        started = time.perf_counter()
        status, body = call(base + path)
        times.append(time.perf_counter() - started)
        assert status == 200, (path, body)
    return round(1000 * statistics.median(times), 2)


def _post_p50(base: str, path: str, bodies: list[dict]) -> float:
    times = []
    for body in bodies:
        request = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"},
                                         method="POST")
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as r:
            answer = json.loads(r.read())
        times.append(time.perf_counter() - started)
        assert len(answer["results"]) + len(answer["query"]["not_available"]) == \
            len(body["films"]), "rank left films out unexplained"
    return round(1000 * statistics.median(times), 2)


def over_http(index: Path) -> dict:
    rng = random.Random(0)
    ids = [json.loads(line)["id"] for line in
           (index / "current" / "films.jsonl").read_text(encoding="utf-8").splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/events.sqlite3"
        env = {"RECOMMENDER_EVENTS_URL": url, "RECOMMENDER_RELOAD_POLL_SECONDS": "1"}
        with running_server(index, workers=2, env=env) as (base, _):
            deadline = time.monotonic() + 300
            while not call(base + "/admin/status")[1].get("similar_table") and \
                    time.monotonic() < deadline:
                time.sleep(0.5)
            queries = distinct_queries(50)
            for q in queries:  # the query vectors cached: both columns measure the ranking
                call(base + "/search?k=10&q=" + urllib.parse.quote(q))
            # sources both questions may ask about: licensed everywhere (no country given
            # to the unfiltered one) and allowed by the context and the expression
            everywhere = {f["id"] for f in call(base + "/films?limit=1000")[1]["films"]}
            figures: dict = {"films": len(ids), "contexts": {}}
            for context in CONTEXTS:
                where = "&" + context + "&filter=" + urllib.parse.quote(EXPRESSION)
                allowed = [f["id"] for f in call(base + "/films?limit=1000" + where)[1][
                    "films"] if f["id"] in everywhere]
                sources = [rng.choice(allowed) for _ in range(RUNS)]
                searches = [urllib.parse.quote(q) for q in queries * 4]
                figures["contexts"][context] = {
                    "allowed_films": int(call(base + "/films?limit=1" + where)[1]["total"]),
                    "similar_unfiltered_p50_ms": _p50(base, [f"/films/{s}/similar?k=10"
                                                             for s in sources]),
                    # the same question through the pipeline (the table answers only
                    # unfiltered pages; min_score=-9 changes nothing else)
                    "similar_unfiltered_pipeline_p50_ms": _p50(base, [
                        f"/films/{s}/similar?k=10&min_score=-9" for s in sources]),
                    "similar_filtered_p50_ms": _p50(base, [f"/films/{s}/similar?k=10{where}"
                                                           for s in sources]),
                    "search_unfiltered_p50_ms": _p50(base, [f"/search?k=10&q={q}"
                                                            for q in searches]),
                    "search_filtered_p50_ms": _p50(base, [f"/search?k=10&q={q}{where}"
                                                          for q in searches]),
                }
            events = [{"user": f"u{rng.randrange(500)}", "film": {"id": rng.choice(ids)},
                       "type": rng.choice(["view", "like", "watchlist"])} for _ in range(10_000)]
            events += [{"user": "viewer-200", "film": {"id": rng.choice(ids)}, "type": "view"}
                       for _ in range(200)]
            for start in range(0, len(events), 1000):
                status, body = call(base + "/events", "POST",
                                    {"events": events[start:start + 1000]})
                assert status == 200, body
            subprocess.run([sys.executable, "-m", "recommender.cli", "train", "--index",
                            str(index), "--events-url", url], check=True, capture_output=True)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(
                    call(base + "/ready")[1].get("collaborative") for _ in range(6)):
                time.sleep(0.5)
            bodies = [{"films": rng.sample(ids, 500), "context": {"country": "DK"}}
                      for _ in range(100)]
            figures["rank_500_p50_ms"] = _post_p50(base, "/users/viewer-200/rank", bodies)
    for row in figures["contexts"].values():
        row["similar_ratio"] = round(row["similar_filtered_p50_ms"] /
                                     row["similar_unfiltered_pipeline_p50_ms"], 3)
        row["search_ratio"] = round(row["search_filtered_p50_ms"] /
                                    row["search_unfiltered_p50_ms"], 3)
    return figures


def at_scale(n: int, queries: int = 200) -> dict:
    """A filter letting 10% through, at ``n`` films, in-process (FilmIndex + FilterMasks:
    the server's own search path, without HTTP)."""
    from recommender.catalog.film import Film
    from recommender.index.ann import AnnSettings, make_faiss_index
    from recommender.index.film_index import FilmIndex
    from recommender.search.expressions import parse
    from recommender.search.filters import FilterMasks

    x = vectors(n)
    started = time.perf_counter()
    hnsw, _ = make_faiss_index(x, AnnSettings(threshold=1, ef_search=1024))
    build = time.perf_counter() - started
    films = [Film(f"f{i}", f"f{i}", "s", attributes={"bucket": i % 10}) for i in range(n)]
    index = FilmIndex(path=Path("."), manifest={}, films=films, faiss_index=hnsw,
                      lexical=None)  # type: ignore[arg-type]
    masks = FilterMasks(index)
    node = parse("attributes.bucket = 3")
    started = time.perf_counter()
    masks.expression(node)
    first_mask = time.perf_counter() - started
    rng = np.random.default_rng(7)
    qs = x[rng.choice(n, queries, replace=False)] + 0.05 * rng.normal(size=(queries, x.shape[1]))
    qs = (qs / np.linalg.norm(qs, axis=1, keepdims=True)).astype(np.float32)
    plain, filtered, recalls, short = [], [], [], 0
    for q in qs:
        t0 = time.perf_counter()
        index.search(q, 10)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        allowed = masks.expression(node)
        hits = index.search(q, 10, allowed)
        filtered.append(time.perf_counter() - t0)
        rows = np.flatnonzero(allowed)
        truth = rows[np.argsort(-(x[rows] @ q))[:10]]
        recalls.append(len({r for r, _ in hits} & set(truth.tolist())) / 10)
        short += len(hits) < 10
    return {"films": n, "allowed_share": 0.1, "hnsw_build_s": round(build, 1),
            "first_mask_ms": round(1000 * first_mask, 1),
            "unfiltered_p50_ms": round(1000 * statistics.median(plain), 3),
            "filtered_p50_ms": round(1000 * statistics.median(filtered), 3),
            "ratio": round(statistics.median(filtered) / statistics.median(plain), 2),
            "recall_at_10": round(float(np.mean(recalls)), 4), "answers_short_of_k": short}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--films", type=int, default=1_000_000,
                        help="films of the in-process run (0: skip it)")
    parser.add_argument("--out", default="bench-results/rules.json")
    args = parser.parse_args()
    report = {"http": over_http(args.index)}
    h = report["http"]
    print(f"Netflix titles ({h['films']} films), p50 over HTTP; the filter is the context "
          f"and {EXPRESSION}:")
    print("| context | films allowed | similar: unfiltered (its table) ms | unfiltered, "
          "pipeline ms | filtered ms | ratio to the pipeline | search: unfiltered ms | "
          "filtered ms | ratio |\n|---|---|---|---|---|---|---|---|---|")
    for context, row in h["contexts"].items():
        print(f"| `{context}` | {row['allowed_films']:,} | {row['similar_unfiltered_p50_ms']} | "
              f"{row['similar_unfiltered_pipeline_p50_ms']} | {row['similar_filtered_p50_ms']} "
              f"| {row['similar_ratio']} | {row['search_unfiltered_p50_ms']} | "
              f"{row['search_filtered_p50_ms']} | {row['search_ratio']} |")
    print(f"\nPOST /users/viewer-200/rank, 500 films (a viewer with 200 events, the "
          f"collaborative model loaded): p50 {h['rank_500_p50_ms']} ms")
    if args.films:
        report["scale"] = s = at_scale(args.films)
        print(f"\n| films | allowed | unfiltered p50 ms | filtered p50 ms | ratio | "
              f"recall@10 (brute force on the allowed) | answers short of k | the mask's "
              f"first computation ms |\n|---|---|---|---|---|---|---|---|\n"
              f"| {s['films']:,} | 10% | {s['unfiltered_p50_ms']} | {s['filtered_p50_ms']} | "
              f"{s['ratio']} | {s['recall_at_10']} | {s['answers_short_of_k']} | "
              f"{s['first_mask_ms']} |")
    save_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
