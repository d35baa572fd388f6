"""The command line of viewers and their events: ``recommender events import FILE`` and
``recommender user-recs USER``, over the same store and rules as ``POST /events`` and
``GET /users/{user}/recommendations``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from recommender.config import Settings

BATCH = 1000


def add_parsers(sub: Any) -> None:
    ev = sub.add_parser("events", help="viewer events: import a JSON Lines file")
    ev_sub = ev.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    imp = ev_sub.add_parser("import", help="store the events of a JSONL file (one per line)")
    imp.add_argument("file", help="JSON Lines: one event per line, as POST /events takes it")
    _add_store(imp)
    ur = sub.add_parser("user-recs", help="a viewer's recommendations, from their events")
    ur.add_argument("user", help="the viewer's id")
    ur.add_argument("-k", type=int, default=10, help="how many films (1..100, default 10)")
    ur.add_argument("--include-seen", action="store_true", help="include films seen")
    ur.add_argument("--json", action="store_true", help="print the API's JSON")
    _add_store(ur)


def _add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", help="index folder (default: models/seeds)")
    p.add_argument("--events-url", help="sqlite:///PATH or postgresql://... (default: a "
                   "SQLite file beside the index; env RECOMMENDER_EVENTS_URL)")


def _personal(settings: Settings) -> tuple[Any, Any]:
    from recommender.embedding import Embedder
    from recommender.engine import Engine
    from recommender.events import default_url, open_store
    from recommender.personal import Personalizer
    from recommender.store import load_index

    embedder = Embedder(settings.model)
    index = load_index(settings.index, expected_model=embedder.name)
    if settings.query_backend == "onnx" and index.query_model_path is not None:
        embedder.use_onnx(index.query_model_path)
    store = open_store(settings.events_url or default_url(settings.index))
    return Engine(index, embedder, settings), Personalizer(store, settings)


def events_import(args: argparse.Namespace, settings: Settings) -> int:
    """Every line validated alone, as POST /events does; stored a thousand at a time, each
    batch committed; bad lines listed by number on stderr."""
    from recommender.errors import RecommenderError
    from recommender.schemas import EventIn, parse
    from recommender.users_api import event_from

    engine, personal = _personal(settings)
    stored = duplicates = 0
    rejected: list[tuple[int, str]] = []
    batch = []
    now = time.time()
    try:
        with open(args.file, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    batch.append(event_from(engine, parse(EventIn, json.loads(line)), now))
                except json.JSONDecodeError as exc:
                    rejected.append((lineno, f"malformed JSON ({exc.msg})"))
                except RecommenderError as exc:
                    rejected.append((lineno, exc.message))
                if len(batch) >= BATCH:
                    s, d = personal.record(batch)
                    stored, duplicates, batch = stored + s, duplicates + d, []
        s, d = personal.record(batch)
        stored, duplicates = stored + s, duplicates + d
    finally:
        personal.store.close()
    for lineno, why in rejected[:20]:
        print(f"  rejected line {lineno}: {why}", file=sys.stderr)
    print(f"{args.file}: {stored} events stored, {duplicates} duplicates, "
          f"{len(rejected)} rejected")
    return 0 if not rejected else 2


def user_recs(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.query import QueryOptions

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
        reason = film["reasons"][0] if film.get("reasons") else {}
        why = f"because you {reason['because']} {reason['film']['title']}" \
            if "film" in reason else reason.get("because", "")
        year = f" ({film['year']})" if film["year"] is not None else ""
        print(f"{rank:3d}. {film['title']}{year}  [{film['id']}]  {why}")
    return 0
