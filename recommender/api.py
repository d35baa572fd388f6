"""The Flask app factory and routes: parse, validate, call the engine, shape JSON.

All errors, ours and werkzeug's, leave through :func:`_render_error` in the
contract's shape ``{"error": {"code", "message", ...}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from recommender.config import Settings
from recommender.embedding import Embedder
from recommender.engine import Engine, QueryOptions
from recommender.errors import (
    IndexMismatch,
    IndexUnavailable,
    InvalidParameter,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RecommenderError,
    UnsupportedMediaType,
)
from recommender.index import load_index

log = logging.getLogger(__name__)
EXTENSION = "recommender"

bp = Blueprint("api", __name__)

_COMMON = ("k", "offset", "year_min", "year_max", "mode")


def create_app(settings: Settings | None = None, *, engine: Engine | None = None,
               embedder: Embedder | None = None, load_model: bool = True) -> Flask:
    """Build the app. The index is loaded here, once per process.

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
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Danish titles stay readable
    app.json.sort_keys = False  # type: ignore[attr-defined]
    state: dict[str, Any] = {"settings": settings, "engine": engine, "error": None}
    if engine is None:
        try:
            state["engine"] = _load_engine(settings, embedder, load_model)
        except (RecommenderError, OSError) as exc:
            # Serve anyway: /health says 503 with the reason, instead of a crash loop.
            log.error("no index loaded: %s", exc)
            state["error"] = str(getattr(exc, "message", exc))
    app.extensions[EXTENSION] = state
    app.register_blueprint(bp)
    app.register_error_handler(RecommenderError, _render_error)
    app.register_error_handler(HTTPException, _render_http_exception)
    app.register_error_handler(Exception, _render_unexpected)
    return app


def _load_engine(settings: Settings, embedder: Embedder | None, load_model: bool) -> Engine:
    embedder = embedder or Embedder(settings.model, batch_size=settings.batch_size,
                                    torch_threads=settings.effective_torch_threads())
    index = load_index(settings.index, expected_model=embedder.name)
    if load_model and embedder.load().dimension != index.dimension:
        raise IndexMismatch(
            f"Index {index.path} holds {index.dimension}-dimensional vectors but model "
            f"{embedder.name!r} makes {embedder.dimension}-dimensional ones. Rebuild the index."
        )
    return Engine(index, embedder, settings)


# -- helpers -----------------------------------------------------------------------


def _engine() -> Engine:
    state = current_app.extensions[EXTENSION]
    if state["engine"] is None:
        raise IndexUnavailable(f"No index is loaded: {state['error']}")
    return state["engine"]


def _settings() -> Settings:
    return current_app.extensions[EXTENSION]["settings"]


def _check_params(allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    for name in request.args:
        if name not in allowed:
            raise InvalidParameter(
                name, f"unknown parameter {name!r}; this route takes: "
                f"{', '.join(sorted(allowed)) or 'no parameters'}",
            )


def _int_arg(name: str, default: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise InvalidParameter(name, f"{name} must be an integer, got {raw[:50]!r}") from None


def _options() -> QueryOptions:
    max_k = _settings().max_k
    k = _int_arg("k", 10)
    if k is None or not 1 <= k <= max_k:
        raise InvalidParameter("k", f"k must be an integer from 1 to {max_k}, got {k}")
    return QueryOptions(k=k, offset=_int_arg("offset", 0) or 0,
                        year_min=_int_arg("year_min"), year_max=_int_arg("year_max"),
                        mode=request.args.get("mode") or _settings().search_mode)


def _text_arg(name: str) -> str:
    value = request.args.get(name)
    if value is None or not value.strip():
        raise InvalidParameter(name, f"{name} is required and must not be empty")
    return value


# -- routes ------------------------------------------------------------------------


@bp.get("/health")
def health() -> Any:
    engine = _engine()  # 503 index_unavailable, in the error shape, while none is loaded
    m = engine.index.manifest
    return jsonify({
        "status": "ok",
        "films": len(engine.index),
        "model": engine.index.model,
        "index": {
            "version": engine.index.version, "path": str(engine.index.path),
            "dimension": engine.index.dimension, "index_type": m.get("index_type"),
            "built_at": m.get("built_at"), "catalog_sha256": m.get("catalog", {}).get("sha256"),
        },
    })


@bp.get("/films")
def films() -> Any:
    _check_params(("offset", "limit"))
    total, page = _engine().films(_int_arg("offset", 0) or 0, _int_arg("limit", 50) or 0)
    return jsonify({"total": total, "films": [
        {"id": f.id, "title": f.title, "year": f.year, "genres": list(f.genres)} for f in page
    ]})


@bp.get("/films/<film_id>")
def film(film_id: str) -> Any:
    _check_params(())
    return jsonify(_engine().film(film_id).to_dict())


@bp.get("/films/<film_id>/similar")
def film_similar(film_id: str) -> Any:
    _check_params(_COMMON)
    return jsonify(_engine().similar(film_id, _options()).to_dict())


@bp.get("/similar")
def similar() -> Any:
    _check_params(("title", "year", *_COMMON))
    engine = _engine()
    options = _options()
    title = _text_arg("title")
    return jsonify(engine.similar_by_title(title, _int_arg("year"), options).to_dict())


@bp.get("/search")
def search() -> Any:
    _check_params(("q", *_COMMON))
    engine = _engine()
    options = _options()
    return jsonify(engine.search(_text_arg("q"), options).to_dict())


# -- errors ------------------------------------------------------------------------


def _error_response(error: RecommenderError) -> Any:
    return jsonify({"error": error.to_dict()}), error.status


def _render_error(error: RecommenderError) -> Any:
    return _error_response(error)


_HTTP_ERRORS: dict[int, type[RecommenderError]] = {
    404: NotFound, 405: MethodNotAllowed, 413: PayloadTooLarge, 415: UnsupportedMediaType,
}


def _render_http_exception(exc: HTTPException) -> Any:
    status = exc.code or 500
    if status == 404:
        error: RecommenderError = NotFound(
            f"No route {request.path!r}. Routes: /health, /films, /films/<id>, "
            "/films/<id>/similar, /similar, /search."
        )
    elif status == 405:
        error = MethodNotAllowed(
            f"{request.method} is not allowed on {request.path}; "
            f"allowed: {', '.join(sorted(getattr(exc, 'valid_methods', None) or []))}."
        )
    elif status == 413:
        error = PayloadTooLarge(
            f"The request body is larger than {_settings().max_body_bytes} bytes."
        )
    elif status in _HTTP_ERRORS:
        error = _HTTP_ERRORS[status](exc.description or exc.name)
    elif 400 <= status < 500:
        error = InvalidParameter("request", exc.description or exc.name)
    else:
        return _render_unexpected(exc)
    response, code = _error_response(error)
    if status == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response, code


def _render_unexpected(exc: Exception) -> Any:
    if isinstance(exc, HTTPException) and (exc.code or 500) < 500:
        return _render_http_exception(exc)
    log.exception("unexpected error on %s %s", request.method, request.path)
    body = {"error": {"code": "internal_error",
                      "message": "An unexpected error occurred; it has been logged."}}
    return jsonify(body), 500
