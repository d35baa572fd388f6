"""The command line of viewers and their events: ``recommender events import FILE``,
``recommender user-recs USER`` (over the same store and rules as ``POST /events`` and
``GET /users/{user}/recommendations``) and ``recommender eval-users --events FILE``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from recommender.config import Settings

BATCH = 1000


def add_parsers(sub: Any) -> None:
    ev = sub.add_parser("events", help="viewer events: import a JSON Lines file")
    ev_sub = ev.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    imp = ev_sub.add_parser("import", help="store the events of a JSONL file (one per line)")
    imp.add_argument("file", help="JSON Lines: one event per line, as POST /events takes it")
    _add_store(imp)
    tk = sub.add_parser("token", help="sign a viewer token: its holder searches and acts as "
                        "this viewer only (RECOMMENDER_VIEWER_TOKEN_SECRET)")
    tk.add_argument("user", help="the viewer's id")
    tk.add_argument("--ttl", type=float, default=3600.0, metavar="SECONDS",
                    help="how long it is valid (default 3600; at most 30 days)")
    ur = sub.add_parser("user-recs", help="a viewer's recommendations, from their events")
    ur.add_argument("user", help="the viewer's id")
    ur.add_argument("-k", type=int, default=10, help="how many films (1..100, default 10)")
    ur.add_argument("--include-seen", action="store_true", help="include films seen")
    ur.add_argument("--json", action="store_true", help="print the API's JSON")
    _add_store(ur)
    tr = sub.add_parser("train", help="learn the collaborative model (EASE) from every "
                        "viewer's events, beside the index's versions")
    _add_store(tr)
    tr.add_argument("--lambda", dest="ease_lambda", type=float, default=None,
                    help="EASE's L2 weight (default 100, measured on MovieLens)")
    tr.add_argument("--min-events", type=int, default=None,
                    help="write no model from fewer events than this (default 100)")
    tr.add_argument("--max-films", type=int, default=None,
                    help="learn at most this many films, the most watched (default 20000)")
    tr.add_argument("--no-tune", action="store_true",
                    help="don't choose the ranking's weights and half-lives by backtesting "
                    "on the log: the settings' values serve")
    eu = sub.add_parser("eval-users", help="score per-user recommendations on an event log "
                        "(leave-last-out, beside trending and random)")
    eu.add_argument("--events", required=True, help="JSON Lines event log, as events import "
                    "takes it (each event with its ts)")
    eu.add_argument("--index", help="index folder (default: models/seeds)")
    eu.add_argument("-k", type=int, default=10, help="the cut-off of every metric (default 10)")
    eu.add_argument("--modes", default="hybrid", help="comma-separated ranking modes of the "
                    "per-user model (semantic, lexical, hybrid; default hybrid)")
    eu.add_argument("--min-history", type=int, default=1, metavar="N",
                    help="evaluate viewers with N or more events before the held-out one "
                    "(default 1)")
    eu.add_argument("--seed", type=int, default=0, help="the random baseline's seed")
    eu.add_argument("--split", choices=("last", "time"), default="last",
                    help="last: each viewer's last new film held out (default); time: a "
                    "global cut-off, everything before it learnt, each viewer's first new "
                    "film after it held out")
    eu.add_argument("--cuts", metavar="START:STOP:STEP",
                    help="with --split time: several cut-offs (shares of the log, e.g. "
                    "0.5:0.95:0.05 or 0.7,0.8,0.9), each evaluated with the clock at the "
                    "cut, the viewers pooled, each hit rate with a 95%% bootstrap interval "
                    "(default: one cut-off at 0.9)")
    eu.add_argument("--cold-films", type=float, default=0.0, metavar="FRACTION",
                    help="also hide every event of this share of the films (seeded) and "
                    "report the viewers whose held-out film is one of them (a second run)")
    eu.add_argument("--out", dest="report", help="also write the figures to this JSON file")
    eu.add_argument("--quiet", action="store_true", help="no progress bar")


def token(args: argparse.Namespace, settings: Settings) -> int:
    """Print a viewer token for ``args.user``, signed with the server's secret."""
    from recommender.api import tokens
    from recommender.api.schemas import user_id
    from recommender.errors import InvalidParameter

    if not settings.viewer_token_secret:
        print("no secret to sign with: set RECOMMENDER_VIEWER_TOKEN_SECRET (the server's)",
              file=sys.stderr)
        return 2
    try:
        print(tokens.sign(settings.viewer_token_secret, user_id(args.user), args.ttl))
    except (ValueError, InvalidParameter) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", help="index folder (default: models/seeds)")
    p.add_argument("--events-url", help="sqlite:///PATH or postgresql://... (default: a "
                   "SQLite file beside the index; env RECOMMENDER_EVENTS_URL)")


def _personal(settings: Settings) -> tuple[Any, Any]:
    """The engine and the viewers' side as the server opens them (the trained model too)."""
    from recommender.search.factory import open_engine
    from recommender.viewers.personal import open_personalizer

    return open_engine(settings), open_personalizer(settings)


def _events_of(path: str, engine: Any, now: float,
               tally: dict[str, int]) -> Iterator[tuple[int, Any]]:
    """(line number, Event or why the line was refused) per non-blank line of ``path``,
    each validated alone, as POST /events does; ``tally``: how each film was found."""
    from recommender.api.schemas import EventIn, event_from, parse
    from recommender.errors import RecommenderError
    from recommender.strict_json import parse_json

    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                event = parse(EventIn, parse_json(line, what="The line"))
                yield lineno, event_from(engine, event, now, tally=tally)
            except RecommenderError as exc:
                yield lineno, exc.message


def _print_rejected(rejected: list[tuple[int, str]]) -> None:
    for lineno, why in rejected[:20]:
        print(f"  rejected line {lineno}: {why}", file=sys.stderr)
    if len(rejected) > 20:
        print(f"  ... and {len(rejected) - 20} more", file=sys.stderr)


def events_import(args: argparse.Namespace, settings: Settings) -> int:
    """Stored a thousand at a time, each batch committed; bad lines listed by number on
    stderr."""
    engine, personal = _personal(settings)
    stored = duplicates = 0
    rejected: list[tuple[int, str]] = []
    batch = []
    found: dict[str, int] = {}
    try:
        for lineno, event in _events_of(args.file, engine, time.time(), found):
            if isinstance(event, str):
                rejected.append((lineno, event))
                continue
            batch.append(event)
            if len(batch) >= BATCH:
                s, d = personal.record(batch)
                stored, duplicates, batch = stored + s, duplicates + d, []
        s, d = personal.record(batch)
        stored, duplicates = stored + s, duplicates + d
    finally:
        personal.store.close()
    _print_rejected(rejected)
    print(f"{args.file}: {stored} events stored, {duplicates} duplicates, "
          f"{len(rejected)} rejected; films found by id {found.get('id', 0)}, by exact "
          f"title {found.get('title', 0)} (never by a near miss)")
    return 0 if not rejected else 2


def train(args: argparse.Namespace, settings: Settings) -> int:
    """Every event of the store into a new model version under ``<index>/models/``; the
    servers on that index take it within their reload poll."""
    from pathlib import Path

    from recommender.index.store import load_index
    from recommender.storage import default_url, open_store
    from recommender.viewers import collaborative, training

    index = load_index(settings.index)
    url = settings.events_url or default_url(settings.index)
    store = open_store(url)
    try:
        report, tuned = training.train_set(
            Path(settings.index), store.timeline(), [f.id for f in index.films], settings,
            tuning=not args.no_tune,
            lam=args.ease_lambda if args.ease_lambda is not None else
            collaborative.DEFAULT_LAMBDA,
            min_events=args.min_events if args.min_events is not None else
            collaborative.MIN_EVENTS,
            max_films=args.max_films if args.max_films is not None else
            collaborative.MAX_FILMS, source=store.location.split("@")[-1])
    finally:
        store.close()
    if report.path is None:
        print(f"no model written: {report.why_not}; the service answers from content and "
              "trending as before", file=sys.stderr)
        return 2
    print(f"trained {report.path}\n  {report.events:,} events of {report.viewers:,} viewers, "
          f"{report.films:,} films learnt (of {len(index):,}) in {report.seconds:.1f} s\n"
          f"{training.tuned_summary(tuned)}")
    return 0


def _eval_future(args: argparse.Namespace, engine: Any, events: list[Any], settings: Settings,
                 modes: Any, progress: Any) -> int:
    """``eval-users --split time --cuts``: several cut-offs, pooled, with intervals."""
    from recommender.errors import InvalidParameter
    from recommender.evaluation.future import evaluate_future, format_pooled, parse_cuts

    if args.split != "time":
        raise InvalidParameter("cuts", "--cuts goes with --split time")
    try:
        cuts = parse_cuts(args.cuts)
    except ValueError as exc:
        raise InvalidParameter("cuts", str(exc)) from None
    report = evaluate_future(engine, events, settings, cuts, k=args.k, modes=modes,
                             min_history=args.min_history, seed=args.seed, progress=progress)
    report["events_file"] = str(args.events)
    print(f"{args.events}: {len(events)} events, {len(cuts)} cut-offs; "
          f"{len(engine.index)} films\n")
    return print_report(format_pooled(report), report, args.report)


def eval_users(args: argparse.Namespace, settings: Settings) -> int:
    """Leave-last-out over a log: per-user model vs trending vs random (user_evaluation)."""
    from recommender.errors import InvalidParameter
    from recommender.evaluation.search_quality import parse_modes
    from recommender.evaluation.viewer_quality import evaluate_users, format_table
    from recommender.search.factory import open_engine

    modes = parse_modes(args.modes)
    if not 1 <= args.k <= settings.max_k:
        raise InvalidParameter("k", f"-k takes 1..{settings.max_k}, got {args.k}")
    if args.min_history < 1:
        raise InvalidParameter("min_history", f"--min-history takes 1 or more, got "
                               f"{args.min_history}")
    engine = open_engine(settings)
    events, rejected = [], []
    for lineno, event in _events_of(args.events, engine, time.time(), {}):
        (rejected.append((lineno, event)) if isinstance(event, str) else events.append(event))
    _print_rejected(rejected)
    progress = None
    if not args.quiet:
        from tqdm import tqdm

        def progress(users: Any) -> Any:
            return tqdm(users, desc="viewers", unit="viewer")
    if args.cuts:
        return _eval_future(args, engine, events, settings, modes, progress)
    if not 0.0 <= args.cold_films < 1.0:
        raise InvalidParameter("cold_films", f"--cold-films takes 0 to under 1, got "
                               f"{args.cold_films}")
    report = evaluate_users(engine, events, settings, k=args.k, modes=modes,
                            min_history=args.min_history, seed=args.seed, progress=progress,
                            split_by=args.split)
    if args.cold_films:  # a second run, films hidden: only its cold-film segment is new
        cold = evaluate_users(engine, events, settings, k=args.k, modes=modes,
                              min_history=args.min_history, seed=args.seed,
                              progress=progress, cold_fraction=args.cold_films,
                              split_by=args.split)
        report["cold_films"] = {"fraction": args.cold_films,
                                "hidden": cold["cold_films_hidden"]}
        if "cold films" in cold["segments"]:
            report["segments"]["cold films"] = cold["segments"]["cold films"]
    if not report["viewers"]:
        raise InvalidParameter("events", f"no viewer of {args.events} can be evaluated: "
                               "each needs a positive event (like, rating of 3.75+, view "
                               f"of half or more) of a new film after {args.min_history} "
                               "or more events of theirs")
    report["events_file"] = str(args.events)
    report["rejected_lines"] = len(rejected)
    report["index"] = {"catalog": engine.index.manifest["catalog"]["source"],
                       "films": len(engine.index), "model": engine.index.model}
    skipped = ", ".join(f"{n} {why}" for why, n in report["skipped"].items()) or "none"
    print(f"{args.events}: {len(events)} events ({len(rejected)} lines rejected), "
          f"{report['viewers']} viewers evaluated (skipped: {skipped}); "
          f"{len(engine.index)} films\n")
    return print_report(format_table(report), report, args.report)


def print_report(table: str, report: dict[str, Any], path: str | None) -> int:
    """An evaluation's table on stdout, its figures to ``path`` (JSON) when given: the
    end of ``recommender eval`` and ``eval-users`` alike."""
    print(table)
    if path:
        from recommender.files import write_json_atomically

        write_json_atomically(path, report)
        print(f"\nwritten to {path}")
    return 0


def _why(reason: dict[str, Any]) -> str:
    """A reason in words: "because you liked Rocky", "viewers of Rocky watched it too"."""
    because, film = reason["because"], (reason.get("film") or {}).get("title")
    if film and because == "viewers_also_liked":
        return f"viewers of {film} watched it too"
    if film:
        return f"because you {because} {film}"
    return because.replace("_", " ")


def user_recs(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.search.query import QueryOptions

    engine, personal = _personal(settings)
    try:
        options = QueryOptions(k=args.k, mode=settings.search_mode)
        page = personal.recommend(engine, args.user, options, include_seen=args.include_seen)
    finally:
        personal.store.close()
    body = page.to_dict()
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    print(f"For {args.user} ({body['query']['history']} events, by "
          f"{body['query']['basis']}):")
    for rank, film in enumerate(body["results"], start=1):
        why = _why(film["reasons"][0]) if film.get("reasons") else ""
        year = f" ({film['year']})" if film["year"] is not None else ""
        print(f"{rank:3d}. {film['title']}{year}  [{film['id']}]  {why}")
    return 0
