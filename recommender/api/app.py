"""The Flask app factory and routes: parse, validate, call the engine, shape JSON.

All errors, ours and werkzeug's, leave through :func:`_render_error` in the
contract's shape ``{"error": {"code", "message", ...}}``.
"""

from __future__ import annotations

import dataclasses
import gzip
import logging
from collections import Counter
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Blueprint, Flask, Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from recommender import budget
from recommender.api import access, http_io, observability, web
from recommender.api import viewers as users_api
from recommender.api.observability import Metrics
from recommender.api.openapi import build_openapi, docs_page
from recommender.api.schemas import (
    BatchRequest,
    ListParams,
    MapParams,
    QueryParams,
    RecommendRequest,
    SearchParams,
    SimilarParams,
    parse,
    parse_args,
)
from recommender.config import Settings
from recommender.distribution.live import LiveIndex
from recommender.embedding.embedder import Embedder
from recommender.errors import (
    IndexUnavailable,
    InvalidParameter,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RecommenderError,
    UnsupportedMediaType,
)
from recommender.search.engine import Engine, QueryOptions
from recommender.search.factory import make_embedder
from recommender.search.projection import METHOD, group_of

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None,
               embedder: Embedder | None = None, load_model: bool = True) -> Flask:
    """Build the app. The index is loaded here, once per process, and followed:
    when ``current`` moves, the app swaps to the new version
    (see :mod:`recommender.distribution.live`).

    Args:
        settings: configuration; defaults plus ``RECOMMENDER_*`` when omitted.
        engine: an engine to serve as is (tests share one across apps).
        embedder: a model to reuse; otherwise one is made from ``settings.model``.
        load_model: load the model now, so the first search isn't slow and a
            model/index mismatch is found at start-up rather than on a request.
    """
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json = StrictJSON(app)
    embedder = embedder or (engine.embedder if engine else None) or \
        make_embedder(settings, server=True)
    metrics = Metrics()
    follower = None
    if settings.index_url:  # serve from a local cache of the store's versions
        from recommender.distribution.published import Follower

        follower = Follower(settings.index_url, settings.cache_dir)
        settings = dataclasses.replace(settings, index=settings.cache_dir)
    live = LiveIndex(settings, embedder, load_model=load_model, engine=engine,
                     follower=follower,
                     on_swap=lambda e: metrics.index_loaded(
                         e.index.version, e.index.model, len(e.index), e.index.dimension),
                     on_reload=lambda outcome: metrics.reloads.labels(outcome=outcome).inc())
    if engine is None:
        live.start()
    else:
        live.follow_model()
    live.watch(settings.reload_poll_seconds)
    observability.init_app(app, metrics)  # first: refused requests are logged and timed too
    access.init_app(app, settings)
    http_io.init_services(app, settings, live, metrics)

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

    http_io.start_training(app)
    app.register_blueprint(bp)
    app.register_blueprint(users_api.bp)
    app.register_blueprint(web.bp)
    app.register_error_handler(RecommenderError, _render_error)
    app.register_error_handler(HTTPException, _render_http_exception)
    app.register_error_handler(Exception, _render_unexpected)
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
    options = QueryOptions.from_fields({**dict(req), **dict(req.filters)}, settings.search_mode)
    return http_io.page_body(engine, engine.recommend(
        req.items("positive"), req.items("negative"), req.query, req.strategy, options))


# -- routes ------------------------------------------------------------------------


@bp.get("/health")
def health() -> Any:
    """What a load balancer needs: up or not, and which version. Where files are lives
    behind the admin key (``/admin/status``)."""
    engine = http_io.engine()  # 503 index_unavailable, in the error shape, while none is loaded
    return jsonify({"status": "ok", "films": len(engine.index), "model": engine.index.model,
                    "index": _index_summary(engine)})


def _index_summary(engine: Engine) -> dict[str, Any]:
    m = engine.index.manifest
    return {"version": engine.index.version, "dimension": engine.index.dimension,
            "index_type": m.get("index_type"), "built_at": m.get("built_at"),
            "catalog_sha256": m.get("catalog", {}).get("sha256")}


@bp.get("/admin/status")
def admin_status() -> Any:
    """For operators: the index's folder, and why the last reload failed, if it did."""
    http_io.no_params()
    live = http_io.live()
    engine = http_io.engine()
    return jsonify({"status": "ok", "films": len(engine.index), "model": engine.index.model,
                    "index": {**_index_summary(engine), "path": str(engine.index.path),
                              "root": str(http_io.settings().index)},
                    "similar_table": engine.neighbours is not None,
                    "last_reload_error": live.reload_error,
                    "events": http_io.events_status(),
                    "collaborative": {**live.model.summary(), "path": str(live.model.path)}
                    if live.model else None,
                    "collaborative_refused": live.model_error})


@bp.get("/ready")
def ready() -> Any:
    """Readiness: an index is loaded and answers a query (by vector; no model call)."""
    engine = http_io.engine()
    probe = engine.similar(engine.index.films[0].id, QueryOptions(k=1, mode="semantic"))
    if len(engine.index) > 1 and not probe.results:
        raise IndexUnavailable("The index is loaded but answered no query.")
    live = http_io.live()
    body = {"status": "ready", "films": len(engine.index), "model": engine.index.model,
            "version": engine.index.version,
            # the viewer routes' database; down, the other routes go on (still 200)
            "events": http_io.events_status(),
            # the collaborative model serving (null: none trained yet)
            "collaborative": live.model.summary() if live.model else None}
    refused_model = live.model_error or (live.follower.model_error if live.follower else None)
    if refused_model:
        body["collaborative_refused"] = refused_model
    if live.reload_refusal:  # still serving; a newer version was refused, and why
        body["refused"] = live.reload_refusal
    return jsonify(body)


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(build_openapi(http_io.settings()))


@bp.get("/docs")
def docs() -> Any:
    return Response(docs_page(build_openapi(http_io.settings())), mimetype="text/html")


@bp.get("/metrics")
def metrics() -> Any:
    """Prometheus metrics: requests by route and status, latency, the index served."""
    metrics = http_io.metrics()
    live = http_io.live()
    embedder = live.embedder
    metrics.query_cache(embedder.cache_hits, embedder.cache_misses)
    model = live.model
    metrics.model_loaded(model.summary() if model else None,
                         model.manifest["trained_at_ts"] if model else 0.0)
    return metrics.exposition()


@bp.post("/admin/reload")
def admin_reload() -> Any:
    """Swap to the version ``current`` points to; the old one serves until then."""
    http_io.no_params()
    result = http_io.live().reload()
    return jsonify({"reloaded": result.changed, "version": result.version,
                    "previous": result.previous})


@bp.get("/films")
def films() -> Any:
    params = parse_args(ListParams, request.args)
    total, page = http_io.engine().films(params.offset, params.limit)
    return jsonify({"total": total, "films": [
        {"id": f.id, "title": f.title, "year": f.year, "genres": list(f.genres)} for f in page
    ]})


@bp.get("/films/<film_id>")
def film(film_id: str) -> Any:
    http_io.no_params()
    return jsonify(http_io.engine().film(film_id).to_dict())


@bp.get("/films/<film_id>/similar")
def film_similar(film_id: str) -> Any:
    params = parse_args(QueryParams, request.args)
    engine = http_io.engine()
    return http_io.page(engine, engine.similar(film_id, http_io.options(params)), params)


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
    step = max(1, -(-len(films) // params.limit))  # an even sample, at most limit points
    rows = range(0, len(films), step)
    groups = Counter(group_of(films[r].genres, films[r].year, params.color_by) for r in rows)
    return _compressed({
        "points": [{"id": films[r].id, "title": films[r].title,
                    "x": round(float(projected.xy[r, 0]), 3),  # a thousandth of the map:
                    "y": round(float(projected.xy[r, 1]), 3),  # finer than its pixels
                    "group": group_of(films[r].genres, films[r].year, params.color_by)}
                   for r in rows],
        "method": METHOD, "explained_variance": [round(v, 4) for v in projected.explained],
        "total": len(films), "color_by": params.color_by,
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
    params = parse_args(SimilarParams, request.args)
    found = engine.similar_by_title(params.title, params.year, http_io.options(params))
    return http_io.page(engine, found, params)


@bp.get("/search")
def search() -> Any:
    engine = http_io.engine()
    params = parse_args(SearchParams, request.args)
    return http_io.page(engine, engine.search(params.q, http_io.options(params)), params)


# -- errors ------------------------------------------------------------------------


def _error_response(error: RecommenderError) -> Any:
    response = jsonify({"error": error.to_dict()})
    if "retry_after" in error.details:
        response.headers["Retry-After"] = str(error.details["retry_after"])
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="recommender"'
    return response, error.status


def _render_error(error: RecommenderError) -> Any:
    return _error_response(error)


_HTTP_ERRORS: dict[int, type[RecommenderError]] = {
    404: NotFound, 405: MethodNotAllowed, 413: PayloadTooLarge, 415: UnsupportedMediaType,
}


def _render_http_exception(exc: HTTPException) -> Any:
    status = exc.code or 500
    if status == 404:
        error: RecommenderError = NotFound(
            f"No route {request.path!r}. The routes are listed at /docs and /openapi.json."
        )
    elif status == 405:
        error = MethodNotAllowed(
            f"{request.method} is not allowed on {request.path}; "
            f"allowed: {', '.join(sorted(getattr(exc, 'valid_methods', None) or []))}."
        )
    elif status == 413:
        error = PayloadTooLarge(
            f"The request body is larger than {http_io.settings().max_body_bytes} bytes: "
            "send less in one request (POST /events: fewer events per batch), or raise "
            "RECOMMENDER_MAX_BODY_BYTES on the server."
        )
    elif status in _HTTP_ERRORS:
        error = _HTTP_ERRORS[status](exc.description or exc.name)
    elif 400 <= status < 500:
        error = InvalidParameter("request", exc.description or exc.name)
    else:
        return _render_unexpected(exc)
    response, code = _error_response(error)
    valid_methods = getattr(exc, "valid_methods", None)  # werkzeug's MethodNotAllowed's
    if status == 405 and valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return response, code


def _render_unexpected(exc: Exception) -> Any:
    if isinstance(exc, HTTPException) and (exc.code or 500) < 500:
        return _render_http_exception(exc)
    log.exception("unexpected error on %s %s", request.method, request.path)
    body = {"error": {"code": "internal_error",
                      "message": "An unexpected error occurred; it has been logged."}}
    return jsonify(body), 500
