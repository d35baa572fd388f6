"""A real log replayed against a running server as traffic, through an A/B experiment.

A MovieLens log joined to a catalog (scripts/join_movielens.py) is moved in time so that
the cut-off (``--cut``, a quantile of the log's times) is now. Everything before it is
sent with ``POST /events`` and ``recommender train`` runs; then the rest of the log is
replayed in time order, as it happens now, one *session* (a viewer's events of one day of
the log) at a time: the viewer asks ``GET /users/{u}/recommendations?k=10``; where the first film of
the session they rated 4 or more is among those shown, the replay sends a ``click`` of it
with the answer's ``recommendation_id``; then the session's events (those of shown films
carrying the id too). One click an impression at most: the live analogue of the offline
hit rate (the next film liked is in the top 10). ``recommender train`` runs again every
``--train-every`` sessions.

The server runs one experiment, ``replay``: half the viewers (by the hash of their id)
get the default ranking, half a popularity list (``{"source": "popular"}``). At the end
the replay reads ``GET /admin/experiments/replay`` and checks that its impressions and
clicks per variant are exactly what it counted itself; and prints the offline evaluation
of the same log at the same cut-off (``recommender eval-users --split time``) beside it.
With ``--screenshot FILE`` it saves the dashboard (``/dashboard``) as Chromium shows it.

    python scripts/replay_traffic.py --join bench-results/ml-imdb [--cut 0.8]

What the replay can't do as a live service would: the months after the cut-off are
replayed in minutes, so among the replayed events nothing decays (for trending and what
is popular now, the replay's events are all of today); the history before the cut does.
MovieLens is GroupLens research data (Harper and Konstan, ACM TiiS 5(4), 2015): used here
to measure, never shipped.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path

from bench_viewers import post
from benchlib import save_report, train_and_wait

from recommender.evaluation.future import evaluate_future, parse_cuts
from tests.ops import call, running_server

ROOT = Path(__file__).resolve().parent.parent
K = 10
OFFLINE_CUTS = "0.75:0.95:0.05"
EXPERIMENT = {"experiments": [{
    "name": "replay", "surfaces": ["user_recommendations"],
    "variants": [{"name": "default", "weight": 1, "ranking": {}},
                 {"name": "popular", "weight": 1, "ranking": {"source": "popular"}}]}]}


def sessions(events: list[dict]) -> list[tuple[str, list[dict]]]:
    """Each viewer's events of one UTC day, in time order of their first event."""
    by_key: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for e in events:
        by_key[(e["user"], e["day"])].append(e)
    return sorted(((user, group) for (user, _), group in by_key.items()),
                  key=lambda s: s[1][0]["ts"])


def replay(base: str, index: Path, url: str, later: list[dict], train_every: int) -> dict:
    counted: dict[str, dict[str, float]] = defaultdict(lambda: {"impressions": 0, "clicks": 0})
    viewers: dict[str, set[str]] = defaultdict(set)
    for n, (user, session) in enumerate(sessions(later), start=1):
        _, body = call(f"{base}/users/{urllib.parse.quote(user)}/recommendations?k={K}")
        variant = body["experiment"]["variant"]
        rid = body["recommendation_id"]
        shown = {r["id"] for r in body["results"]}
        counted[variant]["impressions"] += 1
        viewers[variant].add(user)
        # the film the viewer went on to like first, where the answer showed it: one
        # click an impression at most, as a viewer opens one film from a list (a day of
        # MovieLens ratings is often a sign-up survey of dozens of films, not viewing)
        liked = next((e["film"]["id"] for e in session if e["value"] >= 4), None)
        clicked = [liked] if liked in shown else []
        counted[variant]["clicks"] += len(clicked)
        sent = [{"user": user, "film": {"id": f}, "type": "click", "recommendation_id": rid}
                for f in clicked]
        # only the film opened from the list names the answer, as a client would send it
        sent += [{"user": e["user"], "film": e["film"], "type": e["type"], "value": e["value"],
                  **({"recommendation_id": rid} if e["film"]["id"] in clicked else {})}
                 for e in session]
        post(base, sent)
        if n % train_every == 0:
            train_and_wait(index, url, base)
    return {v: {**c, "viewers": len(viewers[v])} for v, c in counted.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--join", type=Path, required=True)
    parser.add_argument("--cut", type=float, default=0.8)
    parser.add_argument("--train-every", type=int, default=100)
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    raw = sorted((json.loads(line) for line in (args.join / "events.jsonl").open()),
                 key=lambda r: r["ts"])
    cut = raw[int(len(raw) * args.cut)]["ts"]
    shift = time.time() - cut  # the cut-off is now: the history before it at its age
    before = [{**r, "ts": r["ts"] + shift} for r in raw if r["ts"] < cut]
    # what comes after happens now, as the replay sends it (the server takes a time
    # ahead of its clock as now); sessions keep the log's order and days
    later = [{**r, "day": int(r["ts"] // 86_400)} for r in raw if r["ts"] >= cut]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="replay-") as tmp:
        index = Path(tmp) / "index"
        shutil.copytree(args.join / "index", index, symlinks=True,
                        ignore=shutil.ignore_patterns("models"))
        experiments = Path(tmp) / "experiments.json"
        experiments.write_text(json.dumps(EXPERIMENT, indent=2))
        url = f"sqlite:///{Path(tmp) / 'events.sqlite3'}"
        env = {"RECOMMENDER_EVENTS_URL": url, "RECOMMENDER_RELOAD_POLL_SECONDS": "0.5",
               "RECOMMENDER_EXPERIMENTS": str(experiments)}
        with running_server(index, workers=2, env=env) as (base, _):
            post(base, before)
            train_and_wait(index, url, base)
            counted = replay(base, index, url, later, args.train_every)
            time.sleep(2)  # the impressions' last batches, written off the request path
            _, report = call(base + "/admin/experiments/replay")
            if args.screenshot:
                screenshot(base, args.screenshot)
    seconds = time.perf_counter() - started
    served = {v["name"]: v for v in report["variants"]}
    equal = all(served[v]["impressions"] == c["impressions"] and
                served[v]["clicks"] == c["clicks"] for v, c in counted.items())
    print(f"{args.join}: {len(before):,} events before the cut-off ({args.cut}), "
          f"{len(later):,} replayed in {len(sessions(later)):,} sessions; {seconds:.0f} s\n")
    print("| variant | viewers | impressions | clicks | CTR | 95% interval | lift | p | "
          "replay counted |\n|---|---|---|---|---|---|---|---|---|")
    for name, v in served.items():
        low, high = v["ctr_ci95"]
        lift = "control" if v["lift_vs_control"] is None else f"{v['lift_vs_control']:+.1%}"
        mine = counted.get(name, {"impressions": 0, "clicks": 0})
        print(f"| {name} | {v['viewers']} | {v['impressions']} | {v['clicks']} | "
              f"{v['ctr']:.4f} | {low:.4f}-{high:.4f} | {lift} | "
              f"{'' if v['p_value'] is None else v['p_value']} | "
              f"{mine['impressions']} / {mine['clicks']} |")
    print(f"\nthe server's figures {'equal' if equal else 'DIFFER FROM'} what the replay "
          "counted")
    offline = offline_figures(args.join)
    print(f"offline, judged on the future (eval-users --split time --cuts "
          f"{OFFLINE_CUTS}, {offline['viewer_cuts']} viewer-cuts pooled): ours "
          f"{offline['ours']} {offline['ours_ci95']}, popular (decayed) "
          f"{offline['popular']} {offline['popular_ci95']}")
    if args.out:
        save_report(args.out, {"join": str(args.join), "cut": args.cut, "counted": counted,
                               "served": report, "equal": equal, "offline": offline,
                               "seconds": round(seconds, 1)})
    return 0 if equal else 1


def offline_figures(join: Path) -> dict:
    """The offline harness on the same log: ours and decayed popularity, several
    cut-offs pooled (the reported ones of docs/viewer-quality.md)."""
    from recommender.cli.viewers import _events_of
    from recommender.config import Settings
    from recommender.search.factory import open_engine

    settings = Settings(index=join / "index")
    engine = open_engine(settings)
    events = [e for _, e in _events_of(str(join / "events.jsonl"), engine, time.time(), {})
              if not isinstance(e, str)]
    pooled = evaluate_future(engine, events, settings, parse_cuts(OFFLINE_CUTS))["pooled"]
    ours, popular = pooled["per-user (hybrid)"], pooled["popular (decayed)"]
    return {"viewer_cuts": ours["viewers"], "ours": ours["hit_rate"],
            "ours_ci95": list(ours["hit_rate_ci95"]), "popular": popular["hit_rate"],
            "popular_ci95": list(popular["hit_rate_ci95"])}


def screenshot(base: str, path: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        print("no chromium: no screenshot", file=sys.stderr)
        return
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(base + "/dashboard")
        page.wait_for_selector("#chart polyline", state="attached")
        page.wait_for_selector(".experiment table")
        page.screenshot(path=str(path), full_page=True)
        browser.close()


if __name__ == "__main__":
    raise SystemExit(main())
