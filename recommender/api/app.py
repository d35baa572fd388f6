"""The Flask app factory and the routes about films: parse, validate, call the engine,
shape JSON. The operators' routes are :mod:`recommender.api.operations`, the viewers'
:mod:`recommender.api.viewers`; every error leaves through
:mod:`recommender.api.error_handlers`.
"""

from __future__ import annotations

import dataclasses
import gzip
import logging
from collections import Counter
from typing import Any
from urllib.parse import unquote_to_bytes

import numpy as np
from flask import Blueprint, Flask, Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider

from recommender import budget
from recommender.api import (
    access,
    catalog,
    error_handlers,
    http_io,
    impressions,
    observability,
    operations,
    reports,
    viewer_store,
    web,
)
from recommender.api import viewers as users_api
from recommender.api.observability import Metrics
from recommender.api.schemas import (
    BatchRequest,
    FilmParams,
    ListParams,
    MapParams,
    RecommendRequest,
    parse,
    parse_args,
)
from recommender.api.viewer_params import FilmQueryParams, TextParams, TitleParams
from recommender.catalog.facets import MaturityScale
from recommender.config import Settings
from recommender.distribution.live import LiveIndex, open_live
from recommender.errors import InvalidParameter, RecommenderError
from recommender.search.engine import Engine, QueryOptions
from recommender.search.projection import METHOD, group_of
from recommender.search.query import ResultPage
from recommender.storage.catalog_log import CatalogLog
from recommender.storage.impressions import ImpressionLog
from recommender.viewers.experiments import Experiments
from recommender.viewers.rules import Rules, load_rules
from recommender.viewers.surfaces import Surface
from recommender.viewers.variants import film_variant

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__)


def create_app(settings: Settings | None = None, *, live: LiveIndex | None = None,
               experiments: Experiments | None = None, rules: Rules | None = None) -> Flask:
    """Build the app. The index is loaded here, once per process, and followed: when
    ``current`` moves, the app swaps to the new version
    (:mod:`recommender.distribution.live`).

    Args:
        settings: configuration; defaults plus ``RECOMMENDER_*`` when omitted.
        live: the live index to serve (default: the one ``settings`` describe, opened
            with its model); one that already serves an engine is served as it is.
        experiments: the A/B experiments to run (default: ``settings.experiments``'
            file, read now; a server's master reads it once for all its workers).
        rules: the rules in force (default: ``settings.rules``' file, read now), as
            the experiments.
    """
    settings = settings or Settings.from_env()
    live = live or open_live(settings)
    # the index the live one serves from (following a store: the local cache)
    settings = dataclasses.replace(settings, index=live.settings.index)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json = StrictJSON(app)
    metrics = Metrics()
    live.subscribe(on_swap=lambda e: metrics.index_loaded(
                       e.index.version, e.index.model, len(e.index), e.index.dimension),
                   on_reload=lambda outcome: metrics.reloads.labels(outcome=outcome).inc())
    live.start()
    live.watch(settings.reload_poll_seconds)
    observability.init_app(app, metrics)  # first: refused requests are logged and timed too
    access.init_app(app, settings)
    served = http_io.init_services(app, settings, live, metrics)
    served.viewers = stores = viewer_store.init_app(app, settings, live)
    # every process follows the catalog's changes in the event database, from the start
    live.catalog.on_applied = metrics.catalog_applied
    impressions.init_app(app, settings, live, metrics,
                         lambda: ImpressionLog(stores.open().store))
    live.catalog.follow(lambda: CatalogLog(stores.open().store), settings.catalog_poll_seconds)

    @app.before_request
    def _utf8_path() -> None:
        # the path as sent, decoded strictly: werkzeug turns bytes that aren't UTF-8 into
        # U+FFFD, so "%ff%fe" and "%fe%ff" would name the same viewer
        environ = request.environ
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        try:
            if raw is not None:
                unquote_to_bytes(raw.split("?", 1)[0]).decode("utf-8")
            else:  # a WSGI server that keeps no raw path: PATH_INFO is latin-1 bytes
                environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
        except UnicodeError:
            raise InvalidParameter("path", "The path is not UTF-8 once percent-decoded; "
                                   "send ids as UTF-8 (æ is %C3%A6).") from None

    @app.before_request
    def _open_budget() -> None:
        batch = request.path == "/recommend/batch"
        g.budget = budget.open_budget(
            settings.request_budget_seconds,
            settings.max_batch_fuzzy_lookups if batch else settings.max_fuzzy_lookups)

    @app.teardown_request
    def _close_budget(_exc: BaseException | None) -> None:
        token = g.pop("budget", None)
        if token is not None:
            budget.close_budget(token)

    reports.init_app(app, settings, experiments)  # a bad file stops the start, named
    served.rules = rules or (load_rules(settings.rules) if settings.rules else None)
    MaturityScale.once(settings.maturity_scale)  # a bad scale stops the start, named
    for blueprint in (bp, operations.bp, users_api.bp, catalog.bp, reports.bp, web.bp):
        app.register_blueprint(blueprint)
    error_handlers.init_app(app)
    return app


class StrictJSON(DefaultJSONProvider):
    """Flask's JSON, readable Danish (no \\u escapes), keys in the order written, and
    never ``NaN`` or ``Infinity``, which are not JSON: a value like that is an error
    (logged, a 500) rather than an answer no client can parse."""

    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)


def _recommend(engine: Engine, body: Any) -> dict[str, Any]:
    req = parse(RecommendRequest, body)
    settings = http_io.settings()
    if not req.positive and req.query is None:
        raise InvalidParameter("positive", "give at least one liked film in positive, "
                               "or a query text")
    context = dict(req.context) if req.context is not None else {}
    options = QueryOptions.from_fields(
        http_io.context_of({**dict(req), **dict(req.filters), **context}, req.user),
        settings.search_mode, http_io.named_filters())
    label, _ = reports.variant(Surface.RECOMMEND, req.user)
    return http_io.page_body(engine, http_io.ruled(Surface.RECOMMEND, options, lambda o:
        engine.recommend(req.items("positive"), req.items("negative"), req.query,
                         req.strategy, o)), experiment=label, user=req.user)


# -- routes ------------------------------------------------------------------------


@bp.get("/films")
def films() -> Any:
    params = parse_args(ListParams, request.args)
    total, page = http_io.engine().films(params.offset, params.limit, http_io.options(params))
    return jsonify({"total": total, "films": [
        {"id": f.id, "title": f.title, "year": f.year, "genres": list(f.genres)} for f in page
    ]})


@bp.get("/films/<film_id>")
def film(film_id: str) -> Any:
    """The film, where the request's context may see it (else a 404 saying why)."""
    params = parse_args(FilmParams, request.args)
    return jsonify(http_io.engine().film(film_id, http_io.options(params)).to_dict())


@bp.get("/films/<film_id>/similar")
def film_similar(film_id: str) -> Any:
    params = parse_args(FilmQueryParams, request.args)
    engine = http_io.engine()
    label, ranking = reports.variant(Surface.SIMILAR, params.user)
    page = http_io.ruled(Surface.SIMILAR, http_io.options(params), lambda o: film_variant(
        engine, film_id, o, ranking, http_io.live().model, reports.personal_for(ranking),
        "content"))
    return http_io.page(engine, page, params, label)


@bp.post("/recommend")
def recommend() -> Any:
    http_io.no_params()
    return jsonify(_recommend(http_io.engine(), http_io.json_body()))


@bp.post("/recommend/batch")
def recommend_batch() -> Any:
    http_io.no_params()
    engine = http_io.engine()
    batch = parse(BatchRequest, http_io.json_body())
    limit = http_io.settings().max_batch
    if len(batch.requests) > limit:
        raise InvalidParameter(
            "requests", f"a batch holds 1 to {limit} requests; got {len(batch.requests)}. "
            "Split it into several batches.", max_items=limit)
    responses = []
    for body in batch.requests:
        try:
            responses.append({"status": 200, "body": _recommend(engine, body)})
        except RecommenderError as exc:
            responses.append({"status": exc.status, "body": {"error": exc.to_dict()}})
    return jsonify({"responses": responses})


@bp.get("/map")
def catalog_map() -> Any:
    """Every film on the plane (PCA of the vectors), computed once per version."""
    params = parse_args(MapParams, request.args)
    engine = http_io.engine()
    projected = engine.catalog_map()
    films = engine.index.films
    allowed = engine.filters.allowed(http_io.options(params), set())
    shown = range(len(films)) if allowed is None else np.flatnonzero(allowed).tolist()
    step = max(1, -(-len(shown) // params.limit))  # an even sample, at most limit points
    rows = shown[::step]
    groups = Counter(group_of(films[r].genres, films[r].year, params.color_by) for r in rows)
    return _compressed({
        "points": [{"id": films[r].id, "title": films[r].title,
                    "x": round(float(projected.xy[r, 0]), 3),  # a thousandth of the map:
                    "y": round(float(projected.xy[r, 1]), 3),  # finer than its pixels
                    "group": group_of(films[r].genres, films[r].year, params.color_by)}
                   for r in rows],
        "method": METHOD, "explained_variance": [round(v, 4) for v in projected.explained],
        "total": len(shown), "color_by": params.color_by,
        "groups": [{"name": g, "count": c} for g, c in groups.most_common()],
        "version": engine.index.version})


GZIP_FROM = 32 * 1024
"""Answers at least this large are gzipped for clients that take it; smaller ones gain
little and cost a compression each."""


def _compressed(body: dict[str, Any]) -> Response:
    """JSON, gzipped where the client takes it and it is large: the map of a large catalog
    is most of a megabyte as text and a quarter of that compressed (docs/web-page.md)."""
    response = jsonify(body)
    response.vary.add("Accept-Encoding")
    if "gzip" in request.headers.get("Accept-Encoding", "") and \
            response.content_length and response.content_length >= GZIP_FROM:
        response.set_data(gzip.compress(response.get_data(), compresslevel=5))
        response.headers["Content-Encoding"] = "gzip"
    return response


@bp.get("/similar")
def similar() -> Any:
    engine = http_io.engine()
    params = parse_args(TitleParams, request.args)
    options = http_io.options(params)
    label, ranking = reports.variant(Surface.SIMILAR, params.user)

    def run(o: QueryOptions) -> ResultPage:
        found = engine.similar_by_title(params.title, params.year, o)
        if ranking is not None and ranking.source not in (None, "content"):
            found = film_variant(engine, found.query["resolved"]["id"], o, ranking,
                                 http_io.live().model, reports.personal_for(ranking),
                                 "content")
        return found
    return http_io.page(engine, http_io.ruled(Surface.SIMILAR, options, run), params, label)


@bp.get("/search")
def search() -> Any:
    engine = http_io.engine()
    params = parse_args(TextParams, request.args)
    label, _ = reports.variant(Surface.SEARCH, params.user)
    page = http_io.ruled(Surface.SEARCH, http_io.options(params),
                         lambda o: engine.search(params.q, o))
    return http_io.page(engine, page, params, label)

