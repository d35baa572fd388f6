"""The command line: ``recommender build | serve | similar | search``.

Settings come from flags, then ``RECOMMENDER_*`` variables, then defaults
(see :class:`recommender.config.Settings`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from recommender import __version__
from recommender.cli import building
from recommender.cli import catalog as catalog_cli
from recommender.cli import models as models_cli
from recommender.cli import reports as reports_cli
from recommender.cli import viewers as viewers_cli
from recommender.config import Settings
from recommender.index.ann import AnnSettings
from recommender.search.query import FILTERS


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", help="index folder (default: models/seeds; env RECOMMENDER_INDEX)")
    p.add_argument("--model", help="the model: all-MiniLM-L6-v2, multilingual-e5-small, "
                   "all-mpnet-base-v2, or a sentence-transformers path or hub name "
                   "(default: the index's own; env RECOMMENDER_MODEL)")


def _add_query(p: argparse.ArgumentParser) -> None:
    _add_common(p)
    p.add_argument("-k", type=int, default=10, help="how many films (1..100, default 10)")
    p.add_argument("--offset", type=int, default=0, help="skip this many results first")
    for name, meaning in FILTERS.items():  # the query's filters, as the API takes them
        flag = "--" + name.replace("_", "-")
        if name.startswith("year") or name == "max_age":
            p.add_argument(flag, type=int, help=meaning)
        else:
            p.add_argument(flag, help=meaning + (" (comma-separated)" if name == "genres"
                                                 else ""))
    p.add_argument("--mode", choices=("semantic", "lexical", "hybrid"),
                   help="ranking: vectors, words (BM25) or both fused (default: hybrid; "
                   "env RECOMMENDER_SEARCH_MODE)")
    p.add_argument("--exclude", help="ids never to return (comma-separated)")
    p.add_argument("--min-score", type=float, help="only films scoring at least this")
    p.add_argument("--diversity", type=float, default=0.0,
                   help="0..1: re-rank so that similar films don't crowd the list (MMR)")
    p.add_argument("--explain", action="store_true", help="say why each film was chosen")
    p.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")


def _add_catalog(p: argparse.ArgumentParser, default: str | None = "seeds/films.jsonl") -> None:
    p.add_argument("--catalog", help=f"JSONL or CSV catalog (default: {default or 'none'}"
                   + ("" if default else "; given, it is built into a temporary index") + ")")
    for flag, column in (("--id-col", None), ("--title-col", "title"),
                         ("--text-col", "synopsis"), ("--year-col", None),
                         ("--genres-col", None), ("--language-col", None),
                         ("--image-col", None), ("--kind-col", None),
                         ("--maturity-col", None)):
        p.add_argument(flag, default=column, metavar="C",
                       help=f"CSV column of the {flag[2:-4]} (default: {column or 'none'})")
    p.add_argument("--people-col", action="append", default=[], metavar="ROLE=C",
                   help="CSV column of people in a role, names comma-separated (repeat it: "
                   "--people-col director=director --people-col cast=cast); every column "
                   "no flag maps is kept in the films' attributes")
    p.add_argument("--language", help="ISO 639-1 language of the synopses, where the "
                   "catalog doesn't say (e.g. da, en); it picks the stemmer")
    p.add_argument("--on-invalid", choices=("fail", "skip"), default="fail",
                   help="a bad catalog row: refuse the catalog (fail, the default) or leave "
                   "the row out and list it in the version's rejects.jsonl (skip)")
    p.add_argument("--embed-fields", default="synopsis",
                   help="what is embedded: comma-separated title, genres, synopsis "
                   "(default: synopsis)")


FLAG_SETTINGS = {"out": "index", "index": "index", "catalog": "catalog", "model": "model",
                 "batch_size": "batch_size", "precision": "build_precision",
                 "keep_versions": "keep_versions", "host": "host", "port": "port",
                 "workers": "workers", "cache_dir": "cache_dir", "events_url": "events_url"}
"""Flags (argparse ``dest``) that set a :class:`Settings` field, over its environment
variable. docs/configuration.md is generated from this and the parser."""


def settings_from_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the flags given in ``args`` override (None: not given)."""
    given: dict[str, Any] = {}
    for dest, name in FLAG_SETTINGS.items():
        value = getattr(args, dest, None)
        if value is not None and given.get(name) is None:
            given[name] = value
    return given


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recommender", description="Content-based film recommendations.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="embed a catalog and write a FAISS index")
    b.add_argument("--out", help="index folder (default: models/seeds)")
    b.add_argument("--model", help="all-MiniLM-L6-v2, multilingual-e5-small, "
                   "all-mpnet-base-v2, or a sentence-transformers path or hub name "
                   "(default: by the catalog's language, docs/models.md)")
    b.add_argument("--batch-size", type=int, help="films embedded per batch (default 64)")
    b.add_argument("--keep", type=int, dest="keep_versions",
                   help="index versions kept after the build (default 3)")
    _add_catalog(b)
    b.add_argument("--if-stale", action="store_true",
                   help="build only if the index is missing, unreadable, of another format "
                   "or model, or built from another catalog or with other fields")
    b.add_argument("--ann-threshold", type=int, default=AnnSettings.threshold, metavar="N",
                   help="films from which the index is approximate (HNSW) rather than exact "
                   f"(default {AnnSettings.threshold:,})")
    b.add_argument("--hnsw-m", type=int, default=AnnSettings.m, help="HNSW links per node")
    b.add_argument("--ef-construction", type=int, default=AnnSettings.ef_construction)
    b.add_argument("--ef-search", type=int, default=None,
                   help="HNSW efSearch (default: the smallest that reaches recall@10 0.95 "
                   "against exact search, measured at build time)")
    b.add_argument("--no-onnx", action="store_true",
                   help="don't export the model to ONNX: embed with torch, and queries too")
    b.add_argument("--precision", choices=("bf16", "fp32"),
                   help="what the build embeds at through the export (default bf16 where "
                   "the CPU has it: 1.5x sooner than fp32, 99%% of top-10 neighbours kept)")
    b.add_argument("--without-changes", action="store_true",
                   help="build from the catalog file alone: the catalog changes taken "
                   "online until now (PUT/PATCH/DELETE /films) are superseded by it, so a "
                   "film withdrawn online comes back if the file holds it (default: they "
                   "are applied on top of the file)")
    b.add_argument("--events-url", help="the database of the catalog's changes (default: "
                   "RECOMMENDER_EVENTS_URL, else the SQLite file beside --out)")
    b.add_argument("--no-reuse", action="store_true",
                   help="embed every film again, even those unchanged since the current "
                   "version")
    b.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="embed on a Ray cluster (Ray Data, one encoder per actor); ADDRESS "
                   "as ray.init takes it, default the RAY_ADDRESS variable or a local one")
    b.add_argument("--ray-actors-per-node", type=int, default=1, metavar="N",
                   help="encoder actors per cluster node (default 1)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")

    e = sub.add_parser("eval", help="score each search mode on a labelled set")
    e.add_argument("--labels", required=True, help="labelled queries and groups (JSON)")
    e.add_argument("--index", help="evaluate this built index (default: models/seeds)")
    e.add_argument("--model", help="the model (default: the index's own; with --catalog, "
                   "by the catalog's language)")
    _add_catalog(e, default=None)
    e.add_argument("--modes", default="semantic,lexical,hybrid",
                   help="comma-separated modes to compare (default: all three)")
    e.add_argument("--out", dest="report", help="also write the figures to this JSON file")
    e.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("serve", help="serve the HTTP API with gunicorn")
    _add_common(s)
    s.add_argument("--cache-dir", help="with --index URL: where the downloaded versions are "
                   "kept (default models/cache; env RECOMMENDER_CACHE_DIR)")
    s.add_argument("--host", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default 8000)")
    s.add_argument("--workers", type=int, help="gunicorn worker processes (default 2)")

    pu = sub.add_parser("publish", help="copy the current version to an object store")
    pu.add_argument("--index", help="the index folder to publish (default: models/seeds)")
    pu.add_argument("--to", required=True, metavar="URL", dest="store",
                    help="any fsspec URL: s3://bucket/prefix, gs://..., file:///path")
    pu.add_argument("--keep", type=int, dest="keep_versions",
                    help="versions kept in the store (default 3)")

    si = sub.add_parser("similar", help="films similar to a title (or --id)")
    si.add_argument("title", nargs="?", help="the film's title")
    si.add_argument("--id", dest="film_id", help="the film's id instead of its title")
    si.add_argument("--year", type=int, help="the film's year, where titles are shared")
    _add_query(si)

    se = sub.add_parser("search", help="films matching a free-text description")
    se.add_argument("text", help="the description, in any words")
    _add_query(se)

    r = sub.add_parser("recommend", help="films like several liked films, unlike disliked ones")
    r.add_argument("--like", action="append", default=[], metavar="TITLE",
                   help="a liked film's title (repeat for several); id:ID for an id")
    r.add_argument("--dislike", action="append", default=[], metavar="TITLE",
                   help="a disliked film's title (repeat); id:ID for an id")
    r.add_argument("--query", help="free text that steers the result")
    r.add_argument("--strategy", choices=("average", "best_score"), default="average")
    _add_query(r)
    viewers_cli.add_parsers(sub)
    catalog_cli.add_parsers(sub)
    models_cli.add_parsers(sub)
    reports_cli.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from recommender.errors import RecommenderError

    try:
        settings = Settings.from_env(**settings_from_flags(args))
        return int(_COMMANDS[args.command](args, settings))
    except RecommenderError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _publish(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.distribution.published import publish

    if settings.index_url:
        raise ValueError("--index names the local folder to publish; --to names the store")
    done = publish(settings.index, args.store, keep=settings.keep_versions)
    print(f"published {done.version} to {args.store}: {done.files} files, "
          f"{done.bytes / 1e6:.1f} MB; current moved last"
          + (f"; pruned {', '.join(done.pruned)}" if done.pruned else "")
          + (f"; collaborative model {done.model}" if done.model else ""))
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.api.server import serve

    serve(settings)
    return 0


def _options(args: argparse.Namespace, settings: Settings) -> Any:
    from recommender.search.engine import QueryOptions

    def split(value: str | None) -> tuple[str, ...]:
        return tuple(v.strip() for v in (value or "").split(",") if v.strip())

    return QueryOptions.from_fields(
        {**vars(args), "genres": split(args.genres), "exclude": split(args.exclude)},
        settings.search_mode)


def _similar(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.errors import InvalidParameter
    from recommender.search.factory import open_engine

    engine = open_engine(settings)
    if args.film_id:
        page = engine.similar(args.film_id, _options(args, settings))
    elif args.title:
        page = engine.similar_by_title(args.title, args.year, _options(args, settings))
    else:
        raise InvalidParameter("title", "give a TITLE or --id ID")
    return _print_page(page, args.json)


def _search(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.search.factory import open_engine  # free text through the export: no torch

    return _print_page(open_engine(settings).search(args.text, _options(args, settings)),
                       args.json)


def _recommend(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.search.factory import open_engine

    def item(text: str) -> Any:
        return {"id": text[3:]} if text.startswith("id:") else text

    page = open_engine(settings).recommend([item(t) for t in args.like],
                                       [item(t) for t in args.dislike], args.query,
                                       args.strategy, _options(args, settings))
    for u in page.query["unresolved"]:
        print(f"warning: {u['list']} {u['item']!r} left out: {u['message']}", file=sys.stderr)
    return _print_page(page, args.json)


def _print_page(page: Any, as_json: bool) -> int:
    body = page.to_dict()
    if as_json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    resolved = body["query"].get("resolved")
    if resolved:
        how = body["query"].get("match")
        print(f"Films like {resolved['title']} ({resolved['year']})"
              + (f" [{how} match]" if how and how != "exact" else "") + ":")
    for rank, film in enumerate(body["results"], start=body["query"]["offset"] + 1):
        year = f" ({film['year']})" if film["year"] is not None else ""
        print(f"{rank:3d}. {film['score']:.4f}  {film['title']}{year}  [{film['id']}]")
        why = film.get("explanation")
        if why:
            closest = why.get("closest_liked")
            words = why.get("shared_words") or why.get("query_words") or []
            print("       " + "; ".join(filter(None, [
                f"closest to {closest['title']} ({closest['similarity']:.2f})" if closest
                else "", f"shares: {', '.join(words)}" if words else ""])))
    if not body["results"]:
        print("no films match")
    return 0


_COMMANDS = {"build": building.build, "eval": building.evaluate, "serve": _serve,
             "similar": _similar, "search": _search, "recommend": _recommend, "publish": _publish,
             "events": viewers_cli.events_import, "user-recs": viewers_cli.user_recs,
             "eval-users": viewers_cli.eval_users, "train": viewers_cli.train,
             "token": viewers_cli.token,
             "models": models_cli.models, "catalog": catalog_cli.catalog,
             "stats": reports_cli.stats, "experiments": reports_cli.experiments}


if __name__ == "__main__":
    sys.exit(main())
