"""``recommender catalog apply | pending``: the operators' side of the live catalog.

``apply`` takes a JSON Lines file of changes (each line as ``POST /films/bulk`` takes
one) into the event database, embedded with the index's own model, as the server would:
every server sharing the database serves them within seconds. ``pending`` lists the
changes the current version doesn't hold yet (the next ``recommender build`` folds them in).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from recommender.config import Settings


def add_parsers(sub: Any) -> None:
    c = sub.add_parser("catalog", help="change the catalog while it serves (apply, pending)")
    csub = c.add_subparsers(dest="catalog_command", required=True)
    a = csub.add_parser("apply", help="apply a JSONL file of changes (put, patch, delete)")
    a.add_argument("file", help='one change a line: {"op": "put", "film": {"id", "title", '
                   '"synopsis", ...}}, {"op": "patch", "id", "fields": {...}} or '
                   '{"op": "delete", "id"}')
    p = csub.add_parser("pending", help="the changes not yet in a build")
    p.add_argument("--json", action="store_true", help="print JSON")
    for parser in (a, p):
        parser.add_argument("--index", help="index folder (default: models/seeds)")
        parser.add_argument("--events-url", help="sqlite:///PATH or postgresql://... "
                            "(default: RECOMMENDER_EVENTS_URL, else beside the index)")


def catalog(args: argparse.Namespace, settings: Settings) -> int:
    return apply(args, settings) if args.catalog_command == "apply" else pending(args, settings)


def _live(settings: Settings) -> Any:
    from recommender.distribution.live import LiveIndex
    from recommender.search.factory import open_engine
    from recommender.storage import default_url, open_store
    from recommender.storage.catalog_log import CatalogLog

    live = LiveIndex.serving(open_engine(settings), settings)
    store = open_store(settings.events_url or default_url(settings.index))
    live.catalog.follow(lambda: CatalogLog(store), 0)
    return live, store


def apply(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from recommender.catalog.changes import MAX_BULK, parse_requests
    from recommender.distribution.catalog_writer import CatalogWriter
    from recommender.errors import InvalidParameter

    items: list[Any] = []
    with open(args.file, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{args.file}, line {lineno}: malformed JSON ({exc.msg})") \
                    from None
    try:  # every line checked before anything is stored
        requests = parse_requests(items, "line")
    except InvalidParameter as exc:
        raise ValueError(f"{args.file}: {exc.message.replace('line[', 'line [index ')}") \
            from None
    live, store = _live(settings)
    writer = CatalogWriter(live.catalog)
    counts = {"created": 0, "replaced": 0, "withdrawn": 0}
    try:
        with tqdm(total=len(requests), desc="Changes", unit="film", disable=None) as bar:
            for start in range(0, len(requests), MAX_BULK):
                for done in writer.apply(requests[start:start + MAX_BULK]):
                    counts[done.to_dict()["status"]] += 1
                bar.update(min(MAX_BULK, len(requests) - start))
    finally:
        store.close()
    print(f"applied {len(requests)} changes from {args.file}: {counts['created']} created, "
          f"{counts['replaced']} replaced, {counts['withdrawn']} withdrawn; servers sharing "
          "the database serve them within seconds")
    return 0


def pending(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.index.overlay import changes_through

    live, store = _live(settings)
    try:
        engine = live.engine()
        changes = sorted(live.catalog.changes.values(), key=lambda c: c.seq)
        through = changes_through(engine.index.manifest)
    finally:
        store.close()
    rows = [{"seq": c.seq, "id": c.film_id,
             "op": "withdraw" if c.film is None else
             ("replace" if c.film_id in live.catalog.base.index.row_of else "add"),
             "title": c.film.title if c.film else None} for c in changes]
    if args.json:
        print(json.dumps({"version": engine.index.version, "version_through": through,
                          "pending": rows}, ensure_ascii=False, indent=2))
        return 0
    print(f"version {engine.index.version} holds the changes through #{through}; "
          f"{len(rows)} not yet in a build:", file=sys.stderr)
    for row in rows:
        print(f"#{row['seq']:<6} {row['op']:<8} {row['id']}"
              + (f"  {row['title']}" if row["title"] else ""))
    return 0
