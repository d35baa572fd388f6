#!/usr/bin/env python3
"""Each named model side by side, as a user meets it (docs/models.md).

Per model: hit@1 and MRR@10 of free-text search on the seeds' labelled sets, per
language (the easy set and the hard paraphrases; semantic and hybrid); franchise
recall@5 of "more like this" on the IMDb top 1000 (dense only: each franchise member's 5
nearest films, how many of its siblings they hold); the Netflix build as a whole
process (``recommender build``, start to exit: films/s); and a 2-worker server on that
index: free-text ``/search`` p50 over HTTP (distinct queries, so no cache answers) and
each worker's resident memory, at Netflix and at the seeds.

    python scripts/bench_models.py --out bench-results/models.json
    python scripts/bench_models.py --models multilingual-e5-small --skip-netflix

Franchises are found by rule, not by hand: films whose titles agree before a colon (or
" - ") once a leading article and a trailing number ("2", "Part II") are dropped:
23 groups, 54 films (The Godfather, Toy Story, Kill Bill, Trois couleurs, ...).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_lean import memory_kb
from benchlib import NETFLIX, ROOT, distinct_queries, save_report

from recommender.catalog.films import CsvColumns, slugify
from recommender.config import Settings
from recommender.evaluation.search_quality import evaluate, load_labels
from recommender.index.store import load_index, read_manifest
from recommender.search.factory import open_engine
from tests.ops import call, free_port, stop

IMDB = ROOT.parent / "shared" / "datasets" / "imdb_top_1000.csv"
IMDB_COLUMNS = CsvColumns(title="Series_Title", text="Overview", year="Released_Year",
                          genres="Genres")
NETFLIX_FLAGS = ["--title-col", "Movie", "--text-col", "description", "--year-col",
                 "release_year", "--genres-col", "genre", "--language", "en"]
MODELS = ("all-MiniLM-L6-v2", "multilingual-e5-small", "all-mpnet-base-v2")
LABELS = ("seeds", "seeds-hard")


def cli(*args: str) -> float:
    """Seconds one ``recommender ...`` process takes, start to exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "recommender.cli", *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return round(time.perf_counter() - started, 2)


def labelled(index: Path) -> dict:
    """hit@1 and MRR@10 per set, mode and language, with the model's own fusion weight."""
    engine = open_engine(Settings(index=index, reload_poll_seconds=0))
    out = {}
    for name in LABELS:
        labels = load_labels(ROOT / "seeds" / "labels" / f"{name}.json", set(engine.index.row_of))
        report = evaluate(engine, labels, ("semantic", "hybrid"))
        out[name] = {mode: {lang: {"hit@1": round(m["hit@1"], 3), "mrr@10": round(m["mrr@10"], 3)}
                            for lang, m in report["modes"][mode]["queries_by_language"].items()}
                     for mode in ("semantic", "hybrid")}
    return out


def franchise_key(title: str) -> str:
    key = re.split(r":| - ", title.lower().strip())[0]
    key = re.sub(r"^(the|a|an) ", "", key)
    return re.sub(r"(\s+(part\s+)?([0-9]+|ii|iii|iv|v|vi|vii|viii|ix|x))+$", "", key).strip()


def franchise_recall(index: Path, k: int = 5) -> dict:
    """Dense-only: for each member, the share of its siblings among its k nearest films."""
    loaded = load_index(index)
    groups = collections.defaultdict(list)
    for row, film in enumerate(loaded.films):
        groups[franchise_key(film.title)].append(row)
    groups = {key: rows for key, rows in groups.items() if len(rows) > 1}
    recalls = []
    for rows in groups.values():
        for row in rows:
            hits = {r for r, _ in loaded.search(loaded.vector(row), k + 1) if r != row}
            siblings = set(rows) - {row}
            recalls.append(len(hits & siblings) / min(k, len(siblings)))
    return {"recall@5": round(statistics.mean(recalls), 3), "groups": len(groups),
            "films": len(recalls)}


def served(index: Path, queries: int) -> dict:
    """A 2-worker server: /search p50 and p95 over HTTP, then each worker's RSS."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "recommender.cli", "serve", "--index", str(index), "--port",
         str(port), "--workers", "2"], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env={**os.environ, "RECOMMENDER_LOG_LEVEL": "warning"})
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if call(base + "/ready", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        for i in range(20):  # both workers warm
            call(f"{base}/search?q=warm+up+{i}&k=10", timeout=30)
            call(f"{base}/similar?id={load_index(index).films[i % 8].id}&k=10", timeout=30)
        times = []
        for q in distinct_queries(queries):
            started = time.perf_counter()
            status, _ = call(f"{base}/search?q={q.replace(' ', '+')}&k=10", timeout=30)
            times.append((time.perf_counter() - started) * 1000)
            assert status == 200, status
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        workers = [round(memory_kb(int(pid))["rss"] / 1024) for pid in children]
        torch = any("libtorch" in Path(f"/proc/{pid}/maps").read_text() for pid in children)
    finally:
        stop(proc)
    times.sort()
    return {"search_p50_ms": round(statistics.median(times), 2),
            "search_p95_ms": round(times[int(len(times) * 0.95)], 2),
            "worker_rss_mb": workers, "torch_in_workers": torch}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--work", type=Path, default=ROOT / "bench-results" / "models")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-netflix", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench-results" / "models.json"))
    parser.add_argument("--tables-from", type=Path, metavar="JSON",
                        help="print the tables of an earlier run's JSON, measuring nothing")
    args = parser.parse_args()
    if args.tables_from:
        print_table(json.loads(args.tables_from.read_text()))
        return 0
    report: dict = {}
    for model in args.models.split(","):
        slug = slugify(model)
        seeds, imdb, netflix = (args.work / f"{n}-{slug}" for n in ("seeds", "imdb", "netflix"))
        for folder in (seeds, imdb, netflix):
            shutil.rmtree(folder, ignore_errors=True)
        row: dict = {"model": model}
        row["seeds_build_seconds"] = cli("build", "--out", str(seeds), "--quiet", "--model", model)
        row["labelled"] = labelled(seeds)
        row["seeds_server"] = served(seeds, 50)
        cli("build", "--catalog", str(IMDB), "--out", str(imdb), "--quiet", "--model", model,
            "--title-col", IMDB_COLUMNS.title, "--text-col", IMDB_COLUMNS.text,
            "--year-col", "Released_Year", "--genres-col", "Genres", "--language", "en",
            "--on-invalid", "skip")
        row["imdb_franchises"] = franchise_recall(imdb)
        if not args.skip_netflix and NETFLIX.exists():
            seconds = cli("build", "--catalog", str(NETFLIX), "--out", str(netflix), "--quiet",
                          "--model", model, *NETFLIX_FLAGS)
            manifest = read_manifest(netflix / "current")
            row["netflix_build"] = {"films": manifest["film_count"], "seconds": seconds,
                                    "films_per_second": round(manifest["film_count"] / seconds, 1),
                                    **{k: manifest["embeddings"].get(k)
                                       for k in ("runtime", "precision")}}
            row["netflix_server"] = served(netflix, args.queries)
        report[model] = row
        print(model, row, flush=True)
    print_table(report)
    save_report(args.out, report)
    return 0


def print_table(report: dict) -> None:
    print("\n| model | seeds da hit@1 / MRR | seeds en | hard da | hard en | IMDb franchise "
          "recall@5 | Netflix build films/s | /search p50 ms | worker RSS MB seeds / Netflix |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model, row in report.items():
        cells = []
        for name in LABELS:
            for lang in ("da", "en"):
                m = row["labelled"][name]["hybrid"][lang]
                s = row["labelled"][name]["semantic"][lang]
                cells.append(f"{m['hit@1']:.3f} / {m['mrr@10']:.3f} "
                             f"(semantic {s['hit@1']:.3f} / {s['mrr@10']:.3f})")
        build = row.get("netflix_build", {})
        server = row.get("netflix_server", {})
        print(f"| {model} | " + " | ".join(cells)
              + f" | {row['imdb_franchises']['recall@5']:.3f}"
              + f" | {build.get('films_per_second', '-')} ({build.get('runtime', '-')})"
              + f" | {server.get('search_p50_ms', '-')}"
              + f" | {max(row['seeds_server']['worker_rss_mb'])} / "
              + f"{max(server.get('worker_rss_mb', [0])) or '-'} |")


if __name__ == "__main__":
    sys.exit(main())
