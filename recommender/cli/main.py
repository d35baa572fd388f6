"""The command line: ``recommender build | serve | similar | search``.

Settings come from flags, then ``RECOMMENDER_*`` variables, then defaults
(see :class:`recommender.config.Settings`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recommender import __version__
from recommender.cli import models as models_cli
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
        if name.startswith("year"):
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
                         ("--image-col", None)):
        p.add_argument(flag, default=column, metavar="C",
                       help=f"CSV column of the {flag[2:-4]} (default: {column or 'none'})")
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
    models_cli.add_parsers(sub)
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


def _load_catalog(args: argparse.Namespace, path: Any) -> Any:
    from recommender.catalog.films import CsvColumns, load_catalog

    columns = CsvColumns(title=args.title_col, text=args.text_col, id=args.id_col,
                         year=args.year_col, genres=args.genres_col,
                         language=args.language_col, image=args.image_col)
    catalog = load_catalog(path, columns, language=args.language, on_invalid=args.on_invalid)
    print(f"catalog {path}: {len(catalog)} films"
          + (f", {len(catalog.rejects)} rows rejected" if catalog.rejects else ""),
          file=sys.stderr)
    for reject in catalog.rejects[:5]:
        print(f"  rejected line {reject['line']}"
              + (f", field {reject['field']!r}" if reject["field"] else "")
              + f": {reject['reason']}", file=sys.stderr)
    return catalog


def _embed_fields(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(f.strip() for f in args.embed_fields.split(",") if f.strip())


def _build(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.index.build import RayOptions, build_index
    from recommender.index.store import read_manifest
    from recommender.search.factory import make_embedder

    catalog = _load_catalog(args, settings.catalog)
    embedder = make_embedder(settings, model=_build_model(settings, catalog, args.language))
    if args.if_stale and _up_to_date(settings, catalog, embedder.name, _embed_fields(args)):
        print(f"{settings.index} is up to date with {settings.catalog}; nothing to build")
        return 0
    report = build_index(catalog, embedder, settings.index, keep_versions=settings.keep_versions,
                         progress=not args.quiet, language=args.language,
                         embed_fields=_embed_fields(args), reuse=not args.no_reuse,
                         export_onnx=not args.no_onnx, precision=settings.build_precision,
                         ray=None if args.ray is None else RayOptions(
                             address=args.ray or None,
                             actors_per_node=args.ray_actors_per_node,
                             batch_size=settings.batch_size),
                         ann=AnnSettings(threshold=args.ann_threshold, m=args.hnsw_m,
                                         ef_construction=args.ef_construction,
                                         ef_search=args.ef_search))
    rejected = len(catalog.rejects)
    print(f"built {report.path}\n"
          f"  films      {report.films} ({report.embedded} embedded, {report.reused} reused "
          "from the previous version)\n"
          + (f"  rejected   {rejected} catalog rows, listed in "
             f"{report.path / 'rejects.jsonl'}\n" if rejected else "") +
          f"  model      {report.model} ({report.dimension} dimensions)\n"
          f"  time       {report.seconds:.1f} s in all: model load/export "
          f"{report.model_load_seconds:.1f} s, embedding {report.embed_seconds:.1f} s"
          + (f" ({report.films_per_second:.0f} films/s)" if report.embedded else
             " (nothing to embed)"))
    manifest = read_manifest(report.path)
    ray_info = manifest["embeddings"].get("ray")
    if ray_info:
        print(f"  ray        {ray_info['actors']} actors on {ray_info['nodes']} nodes "
              f"({ray_info['address']}), {ray_info['seconds']} s")
    if manifest.get("ann"):
        ann = manifest["ann"]
        print(f"  index      {manifest['index_type']} (M={ann['m']}, efSearch={ann['ef_search']}):"
              f" recall@10 {ann['recall_at_10']:.3f} against exact search")
    return 0


def _build_model(settings: Settings, catalog: Any, language: str | None) -> str:
    """``--model``, else the default for the catalog's language (docs/models.md)."""
    from recommender.embedding.models import default_model_for
    from recommender.index.lexical import catalog_language

    if settings.model:
        return settings.model
    chosen = default_model_for(catalog_language(catalog.films, language))
    print(f"model {chosen}: the default for a catalog in "
          f"{catalog_language(catalog.films, language)!r} (--model to choose)", file=sys.stderr)
    return chosen


def _up_to_date(settings: Settings, catalog: Any, model: str,
                embed_fields: tuple[str, ...]) -> bool:
    from recommender.errors import IndexUnavailable
    from recommender.index.store import load_index

    try:
        manifest = load_index(settings.index, expected_model=model).manifest
    except IndexUnavailable as exc:
        print(f"rebuilding: {exc.message}", file=sys.stderr)
        return False
    return bool(manifest["catalog"]["sha256"] == catalog.sha256
                and tuple(manifest.get("embedded_fields", ())) == embed_fields)


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    """``recommender eval``; with ``--catalog`` and ``--model A,B,...`` one table per model,
    each built and scored the same way (the JSON report keyed by model)."""
    from recommender.evaluation.search_quality import format_table

    models = [m.strip() for m in settings.model.split(",") if m.strip()]
    if len(models) > 1 and not args.catalog:
        raise ValueError("several --model values need --catalog: an index has one model")
    reports = {}
    for model in models or [""]:
        report = _eval_one(args, dataclasses.replace(settings, model=model))
        reports[report["index"]["model"]] = report
        print(f"model {report['index']['model']}: {args.labels}: "
              f"{report['counts']['queries']} queries, "
              f"{report['counts']['group_members']} group members; "
              f"{report['index']['films']} films, "
              f"embedded: {'+'.join(report['index']['embedded_fields'] or [])}\n")
        print(format_table(report) + ("\n" if len(models) > 1 else ""))
    whole = next(iter(reports.values())) if len(reports) == 1 else {"models": reports}
    return viewers_cli.print_report("", whole, args.report) if args.report else 0


def _eval_one(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    import tempfile

    from recommender.evaluation.search_quality import evaluate, load_labels, parse_modes
    from recommender.index.build import build_index
    from recommender.search.factory import make_embedder, open_engine

    modes = parse_modes(args.modes)
    with tempfile.TemporaryDirectory(prefix="recommender-eval-") as tmp:
        index_path = settings.index
        if args.catalog:
            catalog = _load_catalog(args, args.catalog)
            embedder = make_embedder(settings,
                                     model=_build_model(settings, catalog, args.language))
            index_path = build_index(catalog, embedder, tmp,
                                     progress=not args.quiet, language=args.language,
                                     embed_fields=_embed_fields(args)).path
        else:
            embedder = make_embedder(settings)
        engine = open_engine(dataclasses.replace(settings, index=Path(index_path)), embedder)
        index = engine.index
        labels = load_labels(args.labels, known_ids=set(index.row_of))
        report = evaluate(engine, labels, modes)
    report["index"] = {"catalog": index.manifest["catalog"]["source"],
                       "films": len(index), "model": index.model,
                       "fusion_weight": engine.settings.semantic_weight,
                       "embedded_fields": index.manifest.get("embedded_fields"),
                       "lexical": index.manifest.get("lexical")}
    report["labels"] = str(args.labels)
    return report


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


_COMMANDS = {"build": _build, "eval": _eval, "serve": _serve, "similar": _similar,
             "search": _search, "recommend": _recommend, "publish": _publish,
             "events": viewers_cli.events_import, "user-recs": viewers_cli.user_recs,
             "eval-users": viewers_cli.eval_users, "train": viewers_cli.train,
             "models": models_cli.models}


if __name__ == "__main__":
    sys.exit(main())
