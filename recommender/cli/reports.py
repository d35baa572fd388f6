"""``recommender stats`` and ``recommender experiments``: what ``GET /admin/stats`` and
``GET /admin/experiments/{name}`` answer, read from the event database directly (a table,
or ``--json`` for the same JSON as the routes)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from recommender.config import Settings


def add_parsers(sub: Any) -> None:
    s = sub.add_parser("stats", help="click-through per surface per day (as /admin/stats)")
    s.add_argument("--days", type=int, default=7, help="days reported, today included (1..90)")
    e = sub.add_parser("experiments", help="an experiment's variants against the control "
                       "(as /admin/experiments/{name}); without a name, list them")
    e.add_argument("name", nargs="?", help="the experiment (RECOMMENDER_EXPERIMENTS)")
    e.add_argument("--since", help="from (ISO 8601 with its offset)")
    e.add_argument("--until", help="to (ISO 8601 with its offset; default now)")
    for parser in (s, e):
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument("--index", help="index folder (default: models/seeds)")
        parser.add_argument("--events-url", help="sqlite:///PATH or postgresql://... "
                            "(default: RECOMMENDER_EVENTS_URL, else beside the index)")


def _log(settings: Settings) -> Any:
    from recommender.storage import default_url, open_store
    from recommender.storage.impressions import ImpressionLog

    return ImpressionLog(open_store(settings.events_url or default_url(settings.index)))


def _moment(text: str | None, flag: str) -> float | None:
    from recommender.errors import InvalidParameter

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidParameter(flag, f"{flag} takes ISO 8601 with its offset, e.g. "
                               f"2026-12-01T00:00:00Z; got {text!r}")
    return moment.timestamp()


def _row(label: str, f: dict[str, Any], extra: str = "") -> str:
    low, high = f["ctr_ci95"]
    return (f"| {label} | {f['viewers']} | {f['impressions']} | {f['clicks']} | "
            f"{f['ctr']:.4f} | {low:.4f}-{high:.4f} |{extra}")


def stats(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.errors import InvalidParameter
    from recommender.evaluation.online import MAX_DAYS, stats_report

    if not 1 <= args.days <= MAX_DAYS:
        raise InvalidParameter("days", f"--days takes 1..{MAX_DAYS}, got {args.days}")
    report = stats_report(_log(settings), args.days)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print(f"{report['since']} .. {report['until']}; {report['unattributed_events']} "
          "unattributed events\n")
    print("| day, surface | viewers | impressions | clicks | CTR | 95% interval |\n"
          "|---|---|---|---|---|---|")
    for row in report["surfaces"]:
        print(_row(f"{row['day']}, {row['surface']}", row))
    return 0


def experiments(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.errors import NotFound
    from recommender.evaluation.online import experiment_report
    from recommender.viewers.experiments import Experiments, load_experiments

    known = load_experiments(settings.experiments) if settings.experiments else Experiments()
    if args.name is None:
        for each in known.all:
            print(f"{each.name}: {', '.join(each.surfaces)}; variants "
                  + ", ".join(f"{v.name} ({v.weight:g})" for v in each.variants))
        return 0
    experiment = known.by_name.get(args.name)
    if experiment is None:
        raise NotFound(f"No experiment named {args.name!r} in RECOMMENDER_EXPERIMENTS "
                       f"({', '.join(sorted(known.by_name)) or 'none'}).")
    report = experiment_report(_log(settings), experiment.name,
                               [v.name for v in experiment.variants],
                               _moment(args.since, "--since"), _moment(args.until, "--until"))
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print(f"{report['name']}: {report['since']} .. {report['until']}\n")
    print("| variant | viewers | impressions | clicks | CTR | 95% interval | lift | p |\n"
          "|---|---|---|---|---|---|---|---|")
    for v in report["variants"]:
        lift = "control" if v["lift_vs_control"] is None else f"{v['lift_vs_control']:+.1%}"
        p = "" if v["p_value"] is None else f"{v['p_value']:.4f}"
        print(_row(v["name"], v, f" {lift} | {p} |"))
    return 0
