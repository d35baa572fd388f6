"""What a user sees of the service's weight, as whole processes: `recommender build` of the
Netflix catalog, full and after 1% of the synopses changed; each server worker's memory
(RSS and PSS) at the seeds and at Netflix; and the time from `recommender serve` to the
first answered /similar and /search at Netflix.

    python scripts/bench_lean.py [--checkout DIR] [--out FILE]

``--checkout`` runs the commands with the code of another checkout of this repository (a
``git worktree`` of an older commit), so the same figures can be taken before and after.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import NETFLIX, ROOT, save_report

from tests.ops import call, free_port, stop

NETFLIX_FLAGS = ["--title-col", "Movie", "--text-col", "description", "--year-col",
                 "release_year", "--genres-col", "genre", "--language", "en"]


def run(checkout: Path, *args: str) -> float:
    """Seconds one `recommender ...` process takes, start to exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "recommender.cli", *args], cwd=checkout, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONPATH": str(checkout)})
    return round(time.perf_counter() - started, 2)


def changed_catalog(source: Path, out: Path, every: int = 100) -> int:
    """A copy of the catalog with every ``every``-th synopsis changed; how many changed."""
    with open(source, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for i in range(0, len(rows), every):
        rows[i]["description"] += " A new cut, restored."
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(range(0, len(rows), every))


def memory_kb(pid: int) -> dict[str, int]:
    """Resident and proportional set size of one process (PSS splits shared pages)."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            fields[name.lower()] = int(rest.split()[0])
    return fields


def serve(checkout: Path, index: Path, env: dict | None = None) -> dict:
    """Start a 2-worker server; seconds to the first 200 of /similar and of /search, then
    each worker's memory after a few answers of both."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "recommender.cli", "serve", "--index", str(index), "--port",
         str(port), "--workers", "2"], cwd=checkout, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(checkout), "RECOMMENDER_LOG_LEVEL": "warning",
             **(env or {})})
    first: dict[str, float] = {}
    urls = {"similar": base + "/similar?title=Rocky&k=5", "search": base + "/search?q=boxer"}
    try:
        deadline = time.monotonic() + 300
        while len(first) < len(urls) and time.monotonic() < deadline:
            for name, url in urls.items():
                if name in first:
                    continue
                try:
                    if call(url, timeout=30)[0] == 200:
                        first[name] = round(time.perf_counter() - started, 2)
                except OSError:
                    pass
            time.sleep(0.05)
        for _ in range(20):  # both workers answer both kinds a few times
            for url in urls.values():
                call(url, timeout=30)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        workers = [memory_kb(int(pid)) for pid in children]
        torch = ["libtorch" in Path(f"/proc/{pid}/maps").read_text()
                 for pid in children]
    finally:
        stop(proc)
    return {"first_similar_seconds": first.get("similar"),
            "first_search_seconds": first.get("search"),
            "workers": [{"rss_mb": round(w["rss"] / 1024), "pss_mb": round(w["pss"] / 1024)}
                        for w in workers], "torch_in_workers": torch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=ROOT,
                        help="run the commands with this checkout's code (default: this one)")
    parser.add_argument("--out", default="bench-results/lean.json")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    if not NETFLIX.exists():
        sys.exit(f"{NETFLIX} is absent")
    with tempfile.TemporaryDirectory(prefix="bench-lean-") as tmp:
        tmp = Path(tmp)
        seeds = tmp / "seeds"
        run(checkout, "build", "--catalog", str(ROOT / "seeds" / "films.jsonl"), "--out",
            str(seeds), "--quiet")
        changed = changed_catalog(NETFLIX, tmp / "changed.csv")
        catalog = tmp / "netflix.csv"
        shutil.copy(NETFLIX, catalog)
        netflix = tmp / "netflix"
        full = run(checkout, "build", "--catalog", str(catalog), "--out", str(netflix),
                   "--quiet", *NETFLIX_FLAGS)
        incremental = run(checkout, "build", "--catalog", str(tmp / "changed.csv"), "--out",
                          str(netflix), "--quiet", *NETFLIX_FLAGS)
        print("| build (whole process) | seconds |\n|---|---|")
        print(f"| full, Netflix (7,787 films, export made) | {full} |")
        print(f"| after {changed} synopses changed (1%) | {incremental} |")
        print(f"| ratio | {full / incremental:.1f}x |\n")
        served = {"seeds": serve(checkout, seeds),
                  "netflix, first start after the build": serve(checkout, netflix),
                  "netflix, started again": serve(checkout, netflix)}
    print("| server | first /similar s | first /search s | worker RSS MB | worker PSS MB "
          "| torch in workers |\n|---|---|---|---|---|---|")
    for name, row in served.items():
        print(f"| {name} | {row['first_similar_seconds']} | {row['first_search_seconds']} | "
              f"{', '.join(str(w['rss_mb']) for w in row['workers'])} | "
              f"{', '.join(str(w['pss_mb']) for w in row['workers'])} | "
              f"{', '.join('yes' if t else 'no' for t in row['torch_in_workers'])} |")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout,
                            capture_output=True, text=True).stdout.strip()
    save_report(args.out, {"checkout": str(checkout), "commit": commit,
                           "build": {"full_seconds": full, "incremental_seconds": incremental,
                                     "changed_films": changed, "ratio": full / incremental},
                           "serve": served})


if __name__ == "__main__":
    main()
