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
from recommender.config import Settings


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", help="index folder (default: models/seeds; env RECOMMENDER_INDEX)")
    p.add_argument("--model", help="sentence-transformers model: a path or hub name "
                   "(default: the bundled all-MiniLM-L6-v2; env RECOMMENDER_MODEL)")


def _add_query(p: argparse.ArgumentParser) -> None:
    _add_common(p)
    p.add_argument("-k", type=int, default=10, help="how many films (1..100, default 10)")
    p.add_argument("--offset", type=int, default=0, help="skip this many results first")
    p.add_argument("--year-min", type=int, help="only films from this year on")
    p.add_argument("--year-max", type=int, help="only films up to this year")
    p.add_argument("--mode", choices=("semantic", "lexical", "hybrid"),
                   help="ranking: vectors, words (BM25) or both fused (default: hybrid; "
                   "env RECOMMENDER_SEARCH_MODE)")
    p.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recommender", description="Content-based film recommendations.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="embed a catalog and write a FAISS index")
    b.add_argument("--catalog", help="JSONL or CSV catalog (default: seeds/films.jsonl)")
    b.add_argument("--out", help="index folder (default: models/seeds)")
    b.add_argument("--model", help="sentence-transformers model: a path or hub name")
    b.add_argument("--batch-size", type=int, help="films embedded per batch (default 64)")
    b.add_argument("--keep", type=int, dest="keep_versions",
                   help="index versions kept after the build (default 3)")
    for flag, default in (("--id-col", None), ("--title-col", "title"),
                          ("--text-col", "synopsis"), ("--year-col", None),
                          ("--genres-col", None), ("--language-col", None)):
        b.add_argument(flag, default=default, metavar="C",
                       help=f"CSV column of the {flag[2:-4]} (default: "
                       f"{default or 'none'})")
    b.add_argument("--language", help="ISO 639-1 language of the synopses, where the "
                   "catalog doesn't say (e.g. da, en)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("serve", help="serve the HTTP API with gunicorn")
    _add_common(s)
    s.add_argument("--host", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default 8000)")
    s.add_argument("--workers", type=int, help="gunicorn worker processes (default 2)")

    si = sub.add_parser("similar", help="films similar to a title (or --id)")
    si.add_argument("title", nargs="?", help="the film's title")
    si.add_argument("--id", dest="film_id", help="the film's id instead of its title")
    si.add_argument("--year", type=int, help="the film's year, where titles are shared")
    _add_query(si)

    se = sub.add_parser("search", help="films matching a free-text description")
    se.add_argument("text", help="the description, in any words")
    _add_query(se)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from recommender.errors import RecommenderError

    try:
        settings = Settings.from_env(
            index=getattr(args, "out", None) or getattr(args, "index", None),
            catalog=getattr(args, "catalog", None), model=getattr(args, "model", None),
            batch_size=getattr(args, "batch_size", None),
            keep_versions=getattr(args, "keep_versions", None),
            host=getattr(args, "host", None), port=getattr(args, "port", None),
            workers=getattr(args, "workers", None),
        )
        return int(_COMMANDS[args.command](args, settings))
    except RecommenderError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _build(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.catalog import CsvColumns, load_catalog
    from recommender.embedding import Embedder
    from recommender.index import build_index

    columns = CsvColumns(title=args.title_col, text=args.text_col, id=args.id_col,
                         year=args.year_col, genres=args.genres_col,
                         language=args.language_col)
    catalog = load_catalog(settings.catalog, columns, language=args.language)
    print(f"catalog {settings.catalog}: {len(catalog)} films", file=sys.stderr)
    embedder = Embedder(settings.model, batch_size=settings.batch_size)
    report = build_index(catalog, embedder, settings.index,
                         keep_versions=settings.keep_versions, progress=not args.quiet)
    print(f"built {report.path}\n"
          f"  films      {report.films}\n"
          f"  model      {report.model} ({report.dimension} dimensions)\n"
          f"  time       {report.seconds:.1f} s in all: model load "
          f"{report.model_load_seconds:.1f} s, embedding {report.embed_seconds:.1f} s "
          f"({report.films_per_second:.0f} films/s)")
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.server import serve

    serve(settings)
    return 0


def _engine(settings: Settings) -> Any:
    from recommender.embedding import Embedder
    from recommender.engine import Engine
    from recommender.index import load_index

    embedder = Embedder(settings.model, batch_size=settings.batch_size)
    return Engine(load_index(settings.index, expected_model=embedder.name), embedder, settings)


def _options(args: argparse.Namespace, settings: Settings) -> Any:
    from recommender.engine import QueryOptions

    return QueryOptions(k=args.k, offset=args.offset, year_min=args.year_min,
                        year_max=args.year_max, mode=args.mode or settings.search_mode)


def _similar(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.errors import InvalidParameter

    engine = _engine(settings)
    if args.film_id:
        page = engine.similar(args.film_id, _options(args, settings))
    elif args.title:
        page = engine.similar_by_title(args.title, args.year, _options(args, settings))
    else:
        raise InvalidParameter("title", "give a TITLE or --id ID")
    return _print_page(page, args.json)


def _search(args: argparse.Namespace, settings: Settings) -> int:
    return _print_page(_engine(settings).search(args.text, _options(args, settings)), args.json)


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
    if not body["results"]:
        print("no films match")
    return 0


_COMMANDS = {"build": _build, "serve": _serve, "similar": _similar, "search": _search}


if __name__ == "__main__":
    sys.exit(main())
