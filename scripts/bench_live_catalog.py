"""The live catalog as operators use it, through a real server at Netflix scale (gunicorn,
two workers), each figure beside today's way of doing the same (a rebuild and a reload):

- time from a change's answer to its being served by every worker (p50 and max over
  single changes: a film added, a film withdrawn), against ``recommender build`` of the
  one-film-larger catalog and the reload that follows;
- a 1,000-film bulk request's time, against a build of those 1,000 films and its reload;
- ``/films/{id}/similar`` and ``/search`` p50 over HTTP with the 1,000 films in the
  overlay, against the version as built (with its "more like this" table);
- what the workers' lag histogram (``recommender_catalog_change_lag_seconds``) says.

    python scripts/bench_live_catalog.py [--changes 20] [--out bench-results/live-catalog.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import NETFLIX, ROOT, distinct_queries, load_netflix, save_report

from recommender.catalog.films import Catalog
from recommender.embedding.embedder import Embedder
from recommender.index.build import build_index
from tests.ops import call, running_server

BULK = 1000
CONSECUTIVE = 12
"""Answers in a row that must agree before a change counts as served by every worker."""


def p50(base: str, paths: list[str]) -> float:
    times = []
    for path in paths:
        started = time.perf_counter()
        status, body = call(base + path)
        assert status == 200, body
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 2)


def served(base: str, film_id: str, present: bool, timeout: float = 120) -> float:
    """Seconds until CONSECUTIVE answers in a row agree that ``film_id`` is (not) served."""
    started = time.monotonic()
    streak = 0
    while streak < CONSECUTIVE:
        assert time.monotonic() - started < timeout, f"{film_id} never became {present}"
        streak = streak + 1 if (call(f"{base}/films/{film_id}")[0] == 200) is present else 0
    return time.monotonic() - started


def write_catalog(path: Path, films: list) -> Path:
    path.write_text("".join(json.dumps(f.to_dict(), ensure_ascii=False) + "\n"
                            for f in films), encoding="utf-8")
    return path


def rebuild_and_reload(base: str, catalog: Path, out: Path, env: dict, film_id: str) -> dict:
    """Today's way: build the catalog file again (reusing every unchanged vector) and wait
    for the server to reload and serve ``film_id``."""
    started = time.monotonic()
    built = subprocess.run([sys.executable, "-m", "recommender.cli", "build", "--catalog",
                            str(catalog), "--out", str(out), "--quiet"], cwd=ROOT,
                           env={**os.environ, **env}, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    build_seconds = time.monotonic() - started
    visible = served(base, film_id, True)
    return {"build_seconds": round(build_seconds, 2),
            "answer_to_served_seconds": round(time.monotonic() - started, 2),
            "reload_after_build_seconds": round(visible, 2)}


def lag_histogram(base: str) -> dict:
    text = urllib_text(base + "/metrics")
    buckets = {}
    for line in text.splitlines():
        if line.startswith("recommender_catalog_change_lag_seconds_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets[le] = float(line.rsplit(" ", 1)[1])
    return buckets


def urllib_text(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()


def tables(report: dict) -> str:
    """The figures as Markdown tables, each beside today's way (a rebuild and a reload)."""
    single, bulk = report["single_change_seconds"], report["bulk"]
    one, many = report["today_one_film"], report["today_bulk"]
    lag = report["lag_histogram"]
    bulk_total = bulk["request_seconds"] + bulk["answer_to_served_seconds"]
    within = {le: n for le, n in lag.items() if le in ("0.5", "1.0", "2.0", "+Inf")}
    return "\n".join([
        f"Netflix, {report['base_films']:,} films built, 2 workers; a change counts as served "
        f"once {report['consecutive_answers']} answers in a row agree.",
        "",
        "| what | live catalog | today: rebuild + reload | ratio |",
        "|---|---|---|---|",
        f"| one film added, answer to served by every worker, p50 | {single['added_p50']:.2f} s "
        f"| {one['answer_to_served_seconds']:.1f} s (build {one['build_seconds']:.1f} s) | "
        f"{one['answer_to_served_seconds'] / single['added_p50']:.0f}x sooner |",
        f"| one film added, max over {single['changes'] // 2} | {single['added_max']:.2f} s | | |",
        f"| one film withdrawn, p50 / max | {single['withdrawn_p50']:.2f} s / "
        f"{single['withdrawn_max']:.2f} s | (as above) | |",
        f"| {bulk['films']:,} films added in one request: the request | "
        f"{bulk['request_seconds']:.1f} s | build {many['build_seconds']:.1f} s | |",
        f"| {bulk['films']:,} films: answer to served | {bulk['answer_to_served_seconds']:.2f} s "
        f"| {many['answer_to_served_seconds']:.1f} s in all | "
        f"{many['answer_to_served_seconds'] / bulk_total:.1f}x sooner |",
        "",
        "| over HTTP, p50 | as built (with its table) | with "
        f"{report['overlay_ms']['overlay_films']:,} films in the overlay | ratio |",
        "|---|---|---|---|",
        *(f"| `{route}` | {report['as_built_ms'][key]:.2f} ms | "
          f"{report['overlay_ms'][key]:.2f} ms | "
          f"{report['overlay_ms'][key] / report['as_built_ms'][key]:.2f}x |"
          for route, key in (("/films/{id}/similar", "similar_p50"), ("/search", "search_p50"))),
        "",
        "| changes applied by the workers (lag histogram, cumulative) | " +
        " | ".join(f"<= {le} s" if le != "+Inf" else "all" for le in within) + " |",
        "|---|" + "---|" * len(within),
        "| count | " + " | ".join(f"{n:.0f}" for n in within.values()) + " |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables-from", metavar="JSON",
                        help="print the tables of a saved report, running nothing")
    parser.add_argument("--catalog", default=str(NETFLIX))
    parser.add_argument("--changes", type=int, default=20, help="single changes timed")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--out", default="bench-results/live-catalog.json")
    args = parser.parse_args()
    if args.tables_from:
        print(tables(json.loads(Path(args.tables_from).read_text())))
        return
    catalog = load_netflix(args.catalog)
    films = catalog.films
    singles, bulk, base_films = films[:args.changes], films[args.changes:args.changes + BULK], \
        films[args.changes + BULK:]
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    out = tmp / "index"
    base_catalog = dataclasses.replace(catalog, films=base_films)
    print(f"building {len(base_films)} films (the base; {len(singles)} single changes and "
          f"{len(bulk)} bulk ones held back)", file=sys.stderr)
    build_index(Catalog(base_films, str(catalog.source), base_catalog.sha256), Embedder(), out,
                progress=False, export_onnx=True)
    shutil.copytree(out, tmp / "today", symlinks=True)  # today's way, from the same start
    env = {"RECOMMENDER_EVENTS_URL": f"sqlite:///{tmp / 'events.sqlite3'}",
           "RECOMMENDER_RELOAD_POLL_SECONDS": "2"}
    rng = random.Random(0)
    report: dict = {"catalog": "Netflix", "base_films": len(base_films), "workers": 2,
                    "consecutive_answers": CONSECUTIVE}
    with running_server(out, workers=2, env=env) as (base, _):
        deadline = time.monotonic() + 300
        while not call(base + "/admin/status")[1].get("similar_table") and \
                time.monotonic() < deadline:
            time.sleep(0.5)
        ids = [f.id for f in rng.sample(base_films, args.requests)]
        # two sets of queries: the second p50 would otherwise find every vector cached
        queries = distinct_queries(2 * args.requests)
        similar = [f"/films/{i}/similar?k=10" for i in ids]
        search, search_later = ([f"/search?q={q.replace(' ', '+')}&k=10" for q in half]
                                for half in (queries[:args.requests], queries[args.requests:]))
        report["as_built_ms"] = {"similar_p50": p50(base, similar), "search_p50": p50(base, search)}
        added, withdrawn = [], []
        for film in singles:
            body = {k: v for k, v in film.to_dict().items() if k != "id" and v not in (None, [])}
            status, answer = call(f"{base}/films/{film.id}", "PUT", body)
            assert status == 201, answer
            added.append(served(base, film.id, True))
        asked = set(ids)  # the p50s below still ask for these: none of them is withdrawn
        for film in rng.sample([f for f in base_films if f.id not in asked], args.changes):
            assert call(f"{base}/films/{film.id}", "DELETE")[0] == 200
            withdrawn.append(served(base, film.id, False))
        report["single_change_seconds"] = {
            "added_p50": round(statistics.median(added), 3), "added_max": round(max(added), 3),
            "withdrawn_p50": round(statistics.median(withdrawn), 3),
            "withdrawn_max": round(max(withdrawn), 3), "changes": len(added) + len(withdrawn)}
        started = time.monotonic()
        status, answer = call(f"{base}/films/bulk", "POST", {"changes": [
            {"op": "put", "film": {k: v for k, v in f.to_dict().items()
                                   if v not in (None, [])}} for f in bulk]}, timeout=600)
        bulk_seconds = time.monotonic() - started
        assert status == 200 and answer["created"] == BULK, answer
        visible = served(base, bulk[-1].id, True)
        report["bulk"] = {"films": BULK, "request_seconds": round(bulk_seconds, 2),
                          "answer_to_served_seconds": round(visible, 2)}
        report["overlay_ms"] = {"overlay_films": len(singles) + BULK,
                                "similar_p50": p50(base, similar),
                                "search_p50": p50(base, search_later)}
        report["lag_histogram"] = lag_histogram(base)
    # today's way, for the same changes: a build with them in the file, then the reload
    today = tmp / "today"
    env = {**env, "RECOMMENDER_EVENTS_URL": f"sqlite:///{tmp / 'today.sqlite3'}"}
    with running_server(today, workers=2, env=env) as (base, _):
        plus_one = write_catalog(tmp / "plus-one.jsonl", [*base_films, singles[0]])
        report["today_one_film"] = rebuild_and_reload(base, plus_one, today, env,
                                                      singles[0].id)
        plus_bulk = write_catalog(tmp / "plus-bulk.jsonl", [*base_films, singles[0], *bulk])
        report["today_bulk"] = rebuild_and_reload(base, plus_bulk, today, env, bulk[-1].id)
    save_report(args.out, report)
    print(tables(report))


if __name__ == "__main__":
    main()
