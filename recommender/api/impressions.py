"""The app's impressions: every answer that shows films is recorded under its
``recommendation_id`` (:mod:`recommender.viewers.impressions` writes them off the request
path), and every event that names one is counted as attributed or not.

The surface of an answer is its route's (:data:`SURFACES`); routes not named there show
no recommendations (a film's page, the map) and record nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import time
import weakref
from collections.abc import Sequence
from typing import Any

from flask import Flask, Response, g, request

from recommender.api.services import services
from recommender.config import Settings
from recommender.distribution.live import LiveIndex
from recommender.errors import EventsUnavailable
from recommender.search.engine import Engine
from recommender.storage import Event
from recommender.storage.impressions import Impression, ImpressionLog
from recommender.viewers.impressions import ImpressionRecorder
from recommender.viewers.surfaces import Surface

SURFACES: dict[str, Surface] = {
    "users.user_recommendations": Surface.USER_RECOMMENDATIONS,
    "users.user_rows": Surface.USER_ROWS,
    "api.film_similar": Surface.SIMILAR, "api.similar": Surface.SIMILAR,
    "users.film_also_liked": Surface.ALSO_LIKED, "api.search": Surface.SEARCH,
    "api.recommend": Surface.RECOMMEND, "api.recommend_batch": Surface.RECOMMEND,
    "users.trending": Surface.TRENDING, "users.rank_films": Surface.USER_RANK,
}
"""Route endpoint -> the surface its answers are recorded under (the experiments' names)."""


def init_app(app: Flask, settings: Settings, live: LiveIndex, metrics: Any,
             log_of: Any) -> None:
    """Attach a recorder (none where ``RECOMMENDER_IMPRESSIONS=off``); ``log_of`` opens
    the event store's impression log."""
    if settings.impressions == "off":
        return

    def written(batch: list[Impression]) -> None:
        for imp in batch:
            metrics.impressions.labels(surface=imp.surface, variant=imp.variant or "").inc()

    recorder = ImpressionRecorder(
        log_of, settings.impressions_queue_size, settings.impressions_batch,
        settings.impressions_flush_seconds, settings.impressions_retention_days,
        on_written=written,
        on_dropped=lambda why, n: metrics.impressions_dropped.labels(reason=why).inc(n))
    # a worker on its way out writes what it queued; held weakly, so that an app let go
    # (a test's, a reload's) is not kept alive, nor closed at exit against a store gone
    atexit.register(_close_at_exit, weakref.ref(recorder))
    services(app).impressions = recorder
    app.after_request(_offer_if_answered)


def _close_at_exit(ref: weakref.ref[ImpressionRecorder]) -> None:
    recorder = ref()
    if recorder is not None:
        recorder.close()


def _offer_if_answered(response: Response) -> Response:
    """Queue the impressions of this request once its answer is made, and only where it
    is one: an answer that failed after its films were chosen (it can't be encoded, an
    error past the ranking) showed nothing, so it records nothing."""
    pending: list[Impression] = g.pop("pending_impressions", [])
    rec = recorder()
    if rec is not None and response.status_code < 400:
        for impression in pending:
            rec.offer(impression)
    return response


def recorder() -> ImpressionRecorder | None:
    return services().impressions


def record(engine: Engine, films: Sequence[str], recommendation_id: str,
           experiment: tuple[str, str] | None = None, user: str | None = None,
           promoted: Sequence[tuple[str, str]] = ()) -> None:
    """Keep the impression of the answer being made, queued (never blocking) once the
    answer is made (:func:`_offer_if_answered`); ``user``: the viewer a body named (else
    the path's or ``?user=``'s)."""
    rec = recorder()
    surface = SURFACES.get(request.endpoint or "")
    if rec is None or surface is None:
        return
    live = services().live
    model = live.model
    # the viewer of the path, or of ?user= (both validated by the route before it answers)
    user = user or (request.view_args or {}).get("user") or request.args.get("user")
    g.setdefault("pending_impressions", []).append(Impression(
        recommendation_id, surface.value, tuple(films), time.time(),
        user=user if isinstance(user, str) else None,
        experiment=experiment[0] if experiment else None,
        variant=experiment[1] if experiment else None,
        index_version=engine.index.generation,
        model_version=model.version if model is not None else None,
        promoted=tuple(promoted)))


def attribute(events: Sequence[Event], log: ImpressionLog | None, metrics: Any) -> None:
    """Count each stored event that names a recommendation as attributed (its film was
    shown by that answer: by this process, or by any, as the database says) or not. The
    counters only: what the reports say is joined in the database when read."""
    named = [e for e in events if e.recommendation_id]
    if not named:
        return
    rec = recorder()
    found: dict[tuple[str, str], tuple[str, str]] = {}
    missing = []
    for event in named:
        rid = str(event.recommendation_id)
        imp = rec.recent(rid) if rec is not None else None
        if imp is not None and event.film_id in imp.films:
            found[(rid, event.film_id)] = (imp.surface, imp.variant or "")
        else:
            missing.append((rid, event.film_id))
    if missing and log is not None:
        with contextlib.suppress(EventsUnavailable):  # stored; only this count is lost
            found.update(log.shown(missing))
    for event in named:
        where = found.get((str(event.recommendation_id), event.film_id))
        if where is None:
            metrics.unattributed.inc()
        else:
            metrics.attributed.labels(surface=where[0], variant=where[1],
                                      type=event.type).inc()
