"""Catalog writes as operators make them, through two real servers (gunicorn, two workers
each) on one Netflix index folder and one event database, each figure beside the same
measured on an earlier checkout in the same run (``--before``):

- one PUT of a new film: its answer (p50, max), and until every worker of both servers
  serves it (12 answers in a row from each agree);
- 8 writers at once, 5 new films each, on the two servers: each PUT's answer;
- 8 simultaneous first PUTs of one new film: how many say ``201 created`` (one should);
- a licence's end (``available_until`` 3 s ahead): from that moment until every worker
  of both servers answers 404.

    python scripts/bench_catalog_writes.py [--before PATH] [--out bench-results/catalog-writes.json]

``--before PATH``: a checkout to run the servers from for the "before" column (e.g.
``git worktree add /tmp/before HEAD~8``); its figures are measured first.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchlib import ROOT, load_netflix, save_report

from recommender.embedding.embedder import Embedder
from recommender.index.build import build_index
from tests.ops import call, running_server

CONSECUTIVE = 12


@contextmanager
def server(checkout: Path, index: Path, env: dict):
    """``recommender serve`` of ``checkout``, two workers."""
    with running_server(index, workers=2, env=env, start_timeout=180,
                        checkout=checkout) as (base, _):
        yield base


def everywhere(bases: list[str], film_id: str, status: int) -> float:
    """The moment every worker of ``bases`` answers ``status`` for the film, 12 in a row
    from each server."""
    streak = 0
    deadline = time.monotonic() + 60
    while streak < CONSECUTIVE:
        assert time.monotonic() < deadline, f"{film_id} never answered {status}"
        ok = all(call(f"{b}/films/{film_id}")[0] == status for b in bases)
        streak = streak + 1 if ok else 0
    return time.time()


def film(i: int, kind: str) -> dict:
    return {"title": f"Bench {kind} {i}", "year": 2026,
            "synopsis": f"A boxer numbered {i} trains in the snow for the fight of a life."}


def measure(checkout: Path, index: Path, events_url: str) -> dict:
    env = {"RECOMMENDER_EVENTS_URL": events_url}
    with ExitStack() as stack:
        a = stack.enter_context(server(checkout, index, env))
        b = stack.enter_context(server(checkout, index, env))
        call(f"{a}/films/warm-up", "PUT", film(0, "warm"))  # first change: caches filled
        everywhere([a, b], "warm-up", 200)
        answers, visible = [], []
        for i in range(20):
            started = time.perf_counter()
            status, body = call(f"{a}/films/put-{i}", "PUT", film(i, "put"))
            answers.append(time.perf_counter() - started)
            assert status in (200, 201), body
            everywhere([a, b], f"put-{i}", 200)
            visible.append(time.perf_counter() - started)
        writers: list[float] = []

        def write(k: int) -> None:
            for j in range(5):
                started = time.perf_counter()
                status, body = call(f"{(a, b)[k % 2]}/films/w-{k}-{j}", "PUT", film(j, "w"))
                assert status in (200, 201), body
                writers.append(time.perf_counter() - started)
        threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        firsts: list[int] = []
        barrier = threading.Barrier(8)

        def first(k: int) -> None:
            barrier.wait()
            firsts.append(call(f"{(a, b)[k % 2]}/films/same-one", "PUT", film(k, "same"))[0])
        threads = [threading.Thread(target=first, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        edges = []
        for i in range(5):
            edge = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
            status, body = call(f"{a}/films/put-{i}", "PATCH",
                                {"available_until": edge.isoformat()})
            assert status == 200, body
            edges.append(everywhere([a, b], f"put-{i}", 404) - edge.timestamp())
    ms = lambda xs, f: round(1000 * f(xs), 1)  # noqa: E731
    return {"put_p50_ms": ms(answers, statistics.median), "put_max_ms": ms(answers, max),
            "visible_p50_ms": ms(visible, statistics.median),
            "visible_max_ms": ms(visible, max),
            "writers8_p50_ms": ms(writers, statistics.median),
            "writers8_max_ms": ms(writers, max),
            "created_of_8_first_puts": firsts.count(201),
            "edge_lag_p50_ms": ms(edges, statistics.median), "edge_lag_max_ms": ms(edges, max)}


def table(now: dict, before: dict | None) -> str:
    rows = [("one PUT, its answer, p50 / max", "put_p50_ms", "put_max_ms", "ms"),
            ("one PUT, until every worker of two servers serves it, p50 / max",
             "visible_p50_ms", "visible_max_ms", "ms"),
            ("8 writers at once (40 PUTs), each answer, p50 / max", "writers8_p50_ms",
             "writers8_max_ms", "ms"),
            ("a licence's end, until every worker answers 404, p50 / max", "edge_lag_p50_ms",
             "edge_lag_max_ms", "ms")]
    lines = ["| what | now | before | goal |", "|---|---|---|---|"]
    goals = ["< 200 ms", "< 1,000 ms", "< 500 ms (p50)", "< 600 ms"]
    def cell(run: dict | None, p50: str, top: str, unit: str) -> str:
        return f"{run[p50]:,.0f} / {run[top]:,.0f} {unit}" if run else "-"

    for (what, p50, top, unit), goal in zip(rows, goals, strict=True):
        lines.append(f"| {what} | {cell(now, p50, top, unit)} | "
                     f"{cell(before, p50, top, unit)} | {goal} |")
    lines.append(f"| 8 simultaneous first PUTs of one film: `201 created` | "
                 f"{now['created_of_8_first_puts']} | "
                 f"{before['created_of_8_first_puts'] if before else '-'} | 1 |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a checkout measured first, beside")
    parser.add_argument("--index", type=Path, help="a Netflix index folder (default: built)")
    parser.add_argument("--out", default="bench-results/catalog-writes.json")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-writes-"))
    try:
        index = args.index
        if index is None:
            index = tmp / "netflix"
            build_index(load_netflix(), Embedder(), index, progress=False, export_onnx=True)
        report: dict = {"films": len(load_netflix().films)}
        runs = [("before", args.before)] if args.before else []
        for name, checkout in [*runs, ("now", ROOT)]:
            work = tmp / name
            shutil.copytree(index, work, symlinks=True)  # each its own folder and database
            report[name] = measure(checkout, work, f"sqlite:///{tmp / (name + '.sqlite3')}")
            print(f"{name}: {report[name]}", flush=True)
        print()
        print(table(report["now"], report.get("before")))
        save_report(args.out, report)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
