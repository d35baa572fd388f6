"""The operators' routes: liveness, readiness, metrics, the OpenAPI document, the
index's status and a reload on demand (``/admin`` behind the admin key where one is set,
:mod:`recommender.api.access`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from recommender.api import http_io
from recommender.api.openapi import build_openapi, docs_page
from recommender.api.services import events_status, services
from recommender.errors import IndexUnavailable
from recommender.search.engine import Engine
from recommender.search.query import QueryOptions
from recommender.viewers.tuning import provenance

bp = Blueprint("operations", __name__)


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
            "catalog_sha256": m.get("catalog", {}).get("sha256"),
            "catalog_changes_through": (m.get("catalog", {}).get("changes") or {}).get(
                "through", 0),
            "live_changes": engine.index.overlay is not None}


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
                    "events": events_status(),
                    "collaborative": {**live.model.summary(), "path": str(live.model.path)}
                    if live.model else None,
                    "collaborative_refused": live.model_error,
                    # the ranking's weights and half-lives serving, and whence each
                    "ranking": provenance(http_io.settings(),
                                          live.model.tuned if live.model else {}),
                    "catalog": live.catalog.status(),
                    "rules": rules.to_dict() if (rules := services().rules) else None,
                    "context": {"default_country": http_io.settings().default_country or None,
                                "require_country": http_io.settings().require_country == "true",
                                "maturity_scale": engine.scale.source,
                                "unrated_age": http_io.settings().unrated_age}})


@bp.get("/ready")
def ready() -> Any:
    """Readiness: an index is loaded and answers a query (by vector; no model call)."""
    engine = http_io.engine()
    probe = engine.similar(engine.index.films[0].id, QueryOptions(k=1, mode="semantic",
                                                                       unrestricted=True)) \
        if len(engine.index) > 1 else None
    if probe is not None and not probe.results:
        raise IndexUnavailable("The index is loaded but answered no query.")
    live = http_io.live()
    body = {"status": "ready", "films": len(engine.index), "model": engine.index.model,
            "version": engine.index.version,
            # the viewer routes' database; down, the other routes go on (still 200)
            "events": events_status(),
            # the collaborative model serving (null: none trained yet)
            "collaborative": live.model.summary() if live.model else None,
            # the catalog's changes above the version, and whether their database answers
            "catalog": live.catalog.status()}
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
    embedder = live.query_embedder
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
