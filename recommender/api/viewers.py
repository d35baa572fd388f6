"""The routes of viewers and their events: ``POST /events``, ``/users/{user}/...``,
``GET /trending`` (contract: docs/contract.md, "Users and events").

Parse, validate, call :mod:`recommender.viewers.personal`, shape JSON, as :mod:`recommender.api.app`
does for the anonymous questions.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from recommender import budget
from recommender.api import access, http_io, impressions, reports, services
from recommender.api.schemas import (
    ContextIn,
    EventBatch,
    EventIn,
    HistoryParams,
    RankRequest,
    RowsParams,
    UserRecommendationParams,
    event_from,
    parse,
    parse_args,
    user_id,
)
from recommender.api.viewer_params import FilmQueryParams, TrendingViewerParams
from recommender.catalog.facets import FacetError, check_country
from recommender.catalog.titles import film_summary
from recommender.errors import Forbidden, InvalidParameter, RecommenderError
from recommender.search.expressions import Field, Node
from recommender.search.query import QueryOptions, ResultPage, ScoredFilm
from recommender.storage import Event
from recommender.storage.impressions import ImpressionLog
from recommender.storage.viewers import ViewerContext, Viewers
from recommender.viewers.rows import home_rows
from recommender.viewers.surfaces import Surface
from recommender.viewers.variants import film_variant, recommend_variant, trending_variant

bp = Blueprint("users", __name__)


@bp.post("/events")
def post_events() -> Any:
    """Store viewer events: each is validated alone; a 2xx means the accepted ones are
    committed to the database (durable)."""
    http_io.no_params()
    body = http_io.json_body()
    single = not (isinstance(body, dict) and "events" in body)
    items = [body] if single else parse(EventBatch, body).events
    limit = http_io.settings().max_events_per_request
    if len(items) > limit:
        raise InvalidParameter("events", f"one request carries 1 to {limit} events; got "
                               f"{len(items)}. Send them in several requests.",
                               max_items=limit)
    viewer = access.token_viewer()
    if viewer is not None and any(not isinstance(raw, dict) or raw.get("user") != viewer
                                  for raw in items):
        raise Forbidden("This viewer token sends events as its own viewer only: every "
                        "event's user must be the token's.", needs="events")
    engine, personal = http_io.engine(), services.personal()
    now = time.time()
    valid: list[Event] = []
    rejected: list[dict[str, Any]] = []
    for i, raw in enumerate(items):
        budget.check("validating events")
        try:
            valid.append(event_from(engine, parse(EventIn, raw), now,
                                    http_io.live().catalog.holds))
        except RecommenderError as exc:
            if single:
                raise
            rejected.append({"index": i, "error": exc.to_dict()})
    stored, duplicates = personal.record(valid)
    metrics = http_io.metrics()
    if stored:  # by type, over the events of this request (duplicates included: rare)
        for event in valid:
            metrics.events.labels(type=event.type).inc()
        impressions.attribute(valid, ImpressionLog(personal.store), metrics)
    return jsonify({"accepted": stored, "duplicates": duplicates, "rejected": rejected})


@bp.get("/users/<user>/recommendations")
def user_recommendations(user: str) -> Any:
    """Films for this viewer from their history; trending, then the catalog, without one."""
    user = user_id(user)
    params = parse_args(UserRecommendationParams, request.args)
    engine = http_io.engine()
    personal = services.personal()
    assigned = reports.experiments().assign(Surface.USER_RECOMMENDATIONS, user)
    options = http_io.options(params, user)
    if assigned is None:
        page = http_io.ruled(Surface.USER_RECOMMENDATIONS, options, lambda o: personal.recommend(
            engine, user, o, include_seen=params.include_seen))
        return http_io.page(engine, page, params)
    experiment, variant = assigned
    page = http_io.ruled(Surface.USER_RECOMMENDATIONS, options, lambda o: recommend_variant(
        personal, engine, user, o, params.include_seen, variant.ranking))
    return http_io.page(engine, page, params, (experiment.name, variant.name))


@bp.post("/users/<user>/rank")
def rank_films(user: str) -> Any:
    """The films given, ordered for this viewer, with reasons (AWS Personalize's
    GetPersonalizedRanking): those the context may not see are left out and listed
    under ``query.not_available``, unknown ids under ``query.unknown``."""
    user = user_id(user)
    http_io.no_params()
    req = parse(RankRequest, http_io.json_body())
    engine = http_io.engine()
    options = QueryOptions.from_fields(
        http_io.context_of({**(dict(req.context) if req.context else {}),
                            "filter": req.filter}, user),
        http_io.settings().search_mode, http_io.named_filters())
    ids = list(dict.fromkeys(req.films))
    known = [i for i in ids if i in engine.index.row_of]
    why = {i: engine.filters.why_not(engine.index.row_of[i], options.country, options.max_age)
           for i in known}
    given = [i for i in known if why[i] is None]
    page = ResultPage({}, [])
    if given:
        only = Node("in", (Field("id"), tuple(given)))
        page = services.personal().recommend(engine, user, dataclasses.replace(
            options, k=len(given), k_cap=len(given), offset=0,
            filter_node=only if options.filter_node is None else
            Node("and", (options.filter_node, only))), include_seen=True)
        # a film the ranking gave no place (the liked films a content ranking starts
        # from): after the others, in the order given, so every allowed film comes back
        placed = {hit.film.id for hit in page.results}
        for film_id in given:
            if film_id not in placed:
                page.results.append(ScoredFilm(engine.film(film_id), 0.0,
                                               reasons=[{"because": "catalog"}]))
    page.has_more = False  # the films given are the whole answer
    page.query = {**page.query, "films": len(ids),
                  "unknown": [i for i in ids if i not in engine.index.row_of],
                  "not_available": [{"id": i, "reason": why[i]} for i in known if why[i]]}
    return jsonify(http_io.page_body(engine, page))


@bp.get("/users/<user>/rows")
def user_rows(user: str) -> Any:
    """"Because you liked X" rows, then trending this week and new on the service, no film
    in two rows (a streaming home screen)."""
    user = user_id(user)
    params = parse_args(RowsParams, request.args)
    engine = http_io.engine()
    options = http_io.options(params, user)
    rows = home_rows(services.personal(), engine, user, params.rows, params.k, options)
    recommendation_id = http_io.new_recommendation_id()
    assigned = reports.experiments().assign(Surface.USER_ROWS, user)
    label = (assigned[0].name, assigned[1].name) if assigned else None
    impressions.record(engine, [hit.film.id for row in rows for hit in row["results"]],
                       recommendation_id, label)
    extra = {"experiment": {"name": label[0], "variant": label[1]}} if label else {}
    return jsonify({"user": user, **extra, "rows": [
        {"title": row["title"], "because": row["because"], "reason": row["reason"],
         **({"window_days": row["window_days"]} if "window_days" in row else {}),
         "results": [hit.to_dict() for hit in row["results"]]} for row in rows],
        "recommendation_id": recommendation_id})


@bp.get("/users/<user>/history")
def user_history(user: str) -> Any:
    """The viewer's events, newest first."""
    user = user_id(user)
    params = parse_args(HistoryParams, request.args)
    engine = http_io.engine()
    events = []
    for event in services.personal().history(user, params.limit):
        body = event.to_dict()
        known = engine.index.row_of.get(event.film_id)
        body["film"] = film_summary(engine.index.films[known]) if known is not None else \
            {"id": event.film_id, "title": None, "year": None}  # a film gone from the catalog
        events.append(body)
    return jsonify({"user": user, "events": events})


@bp.get("/users/<user>")
def get_viewer(user: str) -> Any:
    """The viewer's stored context (nulls where none is stored)."""
    user = user_id(user)
    http_io.no_params()
    stored = Viewers(services.personal().store).get(user)
    return jsonify({"user": user, **(stored or ViewerContext()).to_dict(),
                    "stored": stored is not None})


@bp.put("/users/<user>")
def put_viewer(user: str) -> Any:
    """Store the viewer's context, whole: ``{"country": "DK", "max_age": 7}`` (a kids
    profile); a field left out or null is cleared. Every answer for them obeys it."""
    user = user_id(user)
    http_io.no_params()
    body = parse(ContextIn, http_io.json_body())
    try:
        country = None if body.country is None else check_country(body.country)
    except FacetError as exc:
        raise InvalidParameter("country", exc.message) from None
    stored = ViewerContext(country, body.max_age)
    Viewers(services.personal().store).put(user, stored)
    services.services().contexts.forget(user)
    return jsonify({"user": user, **stored.to_dict(), "stored": True})


@bp.delete("/users/<user>")
def deleteuser_id(user: str) -> Any:
    """Erase every event of the viewer (204); afterwards the viewer is unknown."""
    user = user_id(user)
    http_io.no_params()
    services.personal().forget(user)
    services.services().contexts.forget(user)
    return Response(status=204)


@bp.get("/films/<film_id>/also-liked")
def film_also_liked(film_id: str) -> Any:
    """Viewers who watched this film also watched (the collaborative model's), beside the
    content's "more like this" (``/films/{id}/similar``)."""
    params = parse_args(FilmQueryParams, request.args)
    engine = http_io.engine()
    label, ranking = reports.variant(Surface.ALSO_LIKED, params.user)
    page = http_io.ruled(Surface.ALSO_LIKED, http_io.options(params), lambda o: film_variant(
        engine, film_id, o, ranking, http_io.live().model, reports.personal_for(ranking),
        "collaborative"))
    return http_io.page(engine, page, params, label)


@bp.get("/trending")
def trending() -> Any:
    """Films by recent events, time-decayed; then the catalog's own order."""
    params = parse_args(TrendingViewerParams, request.args)
    engine = http_io.engine()
    options = http_io.options(params)
    label, ranking = reports.variant(Surface.TRENDING, params.user)
    page = http_io.ruled(Surface.TRENDING, options, lambda o: trending_variant(
        services.personal(), engine, o, params.window_days, ranking))
    return http_io.page(engine, page, params, label)
