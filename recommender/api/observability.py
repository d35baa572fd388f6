"""Request ids, one JSON log line per request, and Prometheus metrics.

Under gunicorn each worker is a process; when ``PROMETHEUS_MULTIPROC_DIR`` is
set (``recommender serve`` sets it) the metrics are shared through that
folder and ``/metrics`` reports all workers together.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

access_log = logging.getLogger("recommender.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (none at import)."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # In multiprocess mode values live in the shared folder, not in a registry.
        registry = None if self.multiprocess else CollectorRegistry()
        self.registry = registry
        self.requests = Counter("recommender_requests", "HTTP requests answered",
                                ["route", "method", "status"], registry=registry)
        self.latency = Histogram("recommender_request_seconds", "Time to answer a request",
                                 ["route"], buckets=_LATENCY_BUCKETS, registry=registry)
        self.films = Gauge("recommender_index_films", "Films in the index being served",
                           registry=registry, multiprocess_mode="livemax")
        self.dimension = Gauge("recommender_index_dimension", "Vector dimension of the index",
                               registry=registry, multiprocess_mode="livemax")
        self.version = Gauge("recommender_index_version_info",
                             "The index version being served (value 1)", ["version", "model"],
                             registry=registry, multiprocess_mode="livemax")
        self.cache = Gauge("recommender_query_cache_lookups",
                           "Free-text query vector cache lookups since start, by result",
                           ["result"], registry=registry, multiprocess_mode="livesum")
        self._served: tuple[str, str] | None = None
        self.model_trained = Gauge(
            "recommender_model_trained_timestamp_seconds",
            "When the collaborative model serving was trained (the oldest of the workers')",
            registry=registry, multiprocess_mode="livemin")
        self.model_films = Gauge("recommender_model_films",
                                 "Films the collaborative model serving has learnt",
                                 registry=registry, multiprocess_mode="livemax")
        self.model_bytes = Gauge("recommender_model_bytes",
                                 "Size of the collaborative model's weights, mapped",
                                 registry=registry, multiprocess_mode="livemax")
        self.reloads = Counter("recommender_index_reloads", "Index reloads by outcome",
                               ["outcome"], registry=registry)
        self.events = Counter("recommender_events", "Viewer events stored, by type",
                              ["type"], registry=registry)
        self.attributed = Counter(
            "recommender_attributed_events",
            "Stored events whose film the recommendation they name showed, by the "
            "answer's surface and variant and the event's type",
            ["surface", "variant", "type"], registry=registry)
        self.unattributed = Counter(
            "recommender_unattributed_events",
            "Stored events naming a recommendation_id that didn't show their film "
            "(unknown, expired, forged)", registry=registry)
        self.impressions = Counter(
            "recommender_impressions", "Impressions written, by surface and variant",
            ["surface", "variant"], registry=registry)
        self.impressions_dropped = Counter(
            "recommender_impressions_dropped",
            "Impressions not recorded: the queue full, or the database refusing them",
            ["reason"], registry=registry)

        self.catalog_changes = Counter(
            "recommender_catalog_changes", "Catalog changes this server took, by operation",
            ["op"], registry=registry)
        self.catalog_lag = Histogram(
            "recommender_catalog_change_lag_seconds",
            "From a catalog change's commit to its being served by this worker",
            buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0),
            registry=registry)

    def index_loaded(self, version: str, model: str, films: int, dimension: int) -> None:
        self.films.set(films)
        self.dimension.set(dimension)
        # set to 0 rather than removed: in multiprocess mode values live in files
        if self._served is not None and self._served != (version, model):
            self.version.labels(*self._served).set(0)
        self._served = (version, model)
        self.version.labels(version=version, model=model).set(1)

    def catalog_applied(self, lags: list[float]) -> None:
        """Seconds from each catalog change's commit to its serving in this worker."""
        for seconds in lags:
            self.catalog_lag.observe(seconds)

    def model_loaded(self, summary: dict[str, Any] | None, trained_ts: float) -> None:
        """The collaborative model serving now (None: none: the gauges say 0)."""
        self.model_trained.set(trained_ts)
        self.model_films.set(summary["films"] if summary else 0)
        self.model_bytes.set(summary["bytes"] if summary else 0)

    def query_cache(self, hits: int, misses: int) -> None:
        self.cache.labels(result="hit").set(hits)
        self.cache.labels(result="miss").set(misses)

    def exposition(self) -> Response:
        registry = self.registry
        if registry is None:  # multiprocess mode: the workers' values from their files
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask, metrics: Metrics) -> None:
    """Give every request an id (echoed in ``X-Request-ID``), a log line and metrics."""

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.requests.labels(route=route, method=request.method,
                                status=str(response.status_code)).inc()
        metrics.latency.labels(route=route).observe(seconds)
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-ID"] = request_id
        access_log.info("%s %s %s", request.method, request.path, response.status_code,
                        extra={"fields": {
                            "request_id": request_id, "method": request.method,
                            "path": request.path, "route": route,
                            "status": response.status_code, "ms": round(seconds * 1000, 2),
                            "remote": request.remote_addr,
                            "bytes": response.calculate_content_length()}})
        return response
