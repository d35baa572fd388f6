"""``recommender build`` and ``recommender eval``: the commands that embed a catalog, with
the model ``--model`` names or the catalog's language picks (docs/models.md)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from recommender.cli import viewers as viewers_cli
from recommender.config import Settings
from recommender.index.ann import AnnSettings


def _load_catalog(args: argparse.Namespace, path: Any) -> Any:
    from recommender.catalog.facets import PERSON_ROLES_PATTERN, MaturityScale
    from recommender.catalog.films import CsvColumns, load_catalog

    people = []
    for given in getattr(args, "people_col", None) or []:
        role, _, column = given.rpartition("=")
        if not column or (role and not PERSON_ROLES_PATTERN.match(role)):
            raise ValueError(f"--people-col {given!r}: give ROLE=COLUMN, e.g. "
                             "director=director (a lowercase role)")
        people.append((role or "cast", column))
    columns = CsvColumns(title=args.title_col, text=args.text_col, id=args.id_col,
                         year=args.year_col, genres=args.genres_col,
                         language=args.language_col, image=args.image_col,
                         kind=getattr(args, "kind_col", None),
                         maturity=getattr(args, "maturity_col", None), people=tuple(people))
    catalog = load_catalog(path, columns, language=args.language, on_invalid=args.on_invalid,
                           scale=MaturityScale.load(Settings.from_env().maturity_scale))
    print(f"catalog {path}: {len(catalog)} films"
          + (f", {len(catalog.rejects)} rows rejected" if catalog.rejects else ""),
          file=sys.stderr)
    if catalog.derived_ids:
        derived, suffixed = catalog.derived_ids
        print(f"  ids        derived from title and year for {derived} films (no --id-col), "
              f"{suffixed} with a suffix from their synopsis where title and year are "
              "shared; map the catalog's own id column with --id-col to keep ids fixed",
              file=sys.stderr)
    for reject in catalog.rejects[:5]:
        print(f"  rejected line {reject['line']}"
              + (f", field {reject['field']!r}" if reject["field"] else "")
              + f": {reject['reason']}", file=sys.stderr)
    return catalog


def _embed_fields(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(f.strip() for f in args.embed_fields.split(",") if f.strip())


def build(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.index.build import RayOptions, build_index
    from recommender.index.store import read_manifest
    from recommender.search.factory import make_embedder

    catalog = _load_catalog(args, settings.catalog)
    embedder = make_embedder(settings, model=_build_model(settings, catalog, args.language))
    catalog, known = _fold_changes(settings, catalog, embedder.name, _embed_fields(args),
                                   without=args.without_changes)
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
                                         ef_search=args.ef_search),
                         known_vectors=known)
    rejected = len(catalog.rejects)
    print(f"built {report.path}\n"
          f"  films      {report.films} ({report.embedded} embedded, {report.reused} reused "
          "from the previous version)\n"
          + (f"  rejected   {rejected} catalog rows, listed in "
             f"{report.path / 'rejects.jsonl'}\n" if rejected else "")
          + _changes_line(catalog.changes) +
          f"  model      {report.model} ({report.dimension} dimensions)\n"
          f"  time       {report.seconds:.1f} s in all: model load/export "
          f"{report.model_load_seconds:.1f} s, embedding {report.embed_seconds:.1f} s"
          + (f" ({report.films_per_second:.{0 if report.films_per_second >= 10 else 1}f} "
             "films/s)" if report.embedded else
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


def _fold_changes(settings: Settings, catalog: Any, model: str, fields: tuple[str, ...], *,
                  without: bool) -> tuple[Any, dict[str, Any]]:
    """The catalog file with the changes taken online since the current version's baseline
    applied (docs/live-catalog.md), and the vectors they were stored with (by ``model``)."""
    from recommender.catalog.changes import fold
    from recommender.embedding.embedder import document_text
    from recommender.errors import IndexUnavailable
    from recommender.index.build import text_checksum
    from recommender.index.store import read_manifest, resolve_version_dir
    from recommender.storage import default_url, open_store
    from recommender.storage.catalog_log import CatalogLog

    url = settings.events_url or default_url(settings.index)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return catalog, {}  # no database yet: no change was ever taken
    try:
        baseline = int(((read_manifest(resolve_version_dir(settings.index)).get("catalog")
                         or {}).get("changes") or {}).get("from", 0))
    except (IndexUnavailable, OSError, ValueError):
        baseline = 0
    store = open_store(url)
    try:
        changelog = CatalogLog(store)
        through = changelog.latest()
        if without:  # the file is the truth from now: later builds start from here
            folded = fold(catalog, {}, through, through)
            assert folded.changes is not None
            folded.changes["file_alone"] = True
            return folded, {}
        newest, _ = changelog.overlay(baseline)
    finally:
        store.close()
    known = {text_checksum(document_text(c.film, fields)): c.vector
             for c in newest.values() if c.film is not None and c.vector is not None
             and c.model == model}
    return fold(catalog, newest, baseline, through), known


def _changes_line(changes: dict[str, Any] | None) -> str:
    if not changes:
        return ""
    if changes["from"] == changes["through"] and not any(
            changes[k] for k in ("added", "replaced", "withdrawn")):
        return ("  changes    none applied ("
                + (f"--without-changes: the file alone, through #{changes['through']}"
                   if changes.get("file_alone") else "none taken online since the last build")
                + ")\n")
    return (f"  changes    #{changes['from'] + 1}..#{changes['through']} taken online applied: "
            f"{changes['added']} added, {changes['replaced']} replaced, "
            f"{changes['withdrawn']} withdrawn\n")


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
        first = not Path(settings.index).exists() or not any(Path(settings.index).iterdir())
        # a first build is not a failure: it says what it does, not what is missing
        print(f"no index at {settings.index} yet: building it from {catalog.source}" if first
              else f"rebuilding: {exc.message}", file=sys.stderr)
        return False
    return bool(manifest["catalog"]["sha256"] == catalog.sha256
                and tuple(manifest.get("embedded_fields", ())) == embed_fields)


def evaluate(args: argparse.Namespace, settings: Settings) -> int:
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
