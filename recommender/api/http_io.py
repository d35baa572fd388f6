"""What every route shares: the app's state, strict JSON bodies, query options, and the
shape of a page of results (with its ``recommendation_id``).

The blueprints (:mod:`recommender.api.app`, :mod:`recommender.api.viewers`) only parse,
validate, call the engine and shape JSON; what they do alike lives here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from flask import jsonify, request

from recommender.api import impressions
from recommender.api.observability import Metrics
from recommender.api.services import EXTENSION as SERVICES
from recommender.api.services import Services, services
from recommender.api.viewer_context import with_context
from recommender.config import Settings
from recommender.distribution.live import LiveIndex
from recommender.errors import (
    EventsUnavailable,
    InvalidJson,
    InvalidParameter,
    UnsupportedMediaType,
)
from recommender.search.engine import Engine
from recommender.search.expressions import Node
from recommender.search.query import QueryOptions, ResultPage
from recommender.storage.viewers import Viewers
from recommender.strict_json import parse_json
from recommender.viewers.placement import with_rules
from recommender.viewers.surfaces import Surface

log = logging.getLogger(__name__)


def live() -> LiveIndex:
    return services().live


def engine() -> Engine:
    return live().engine()


def settings() -> Settings:
    return services().settings


def metrics() -> Metrics:
    return services().metrics


def init_services(app: Any, settings: Settings, live: LiveIndex, metrics: Metrics
                  ) -> Services:
    """Attach the app's :class:`~recommender.api.services.Services`; the factory fills in
    the rest of it."""
    found = app.extensions[SERVICES] = Services(settings, live, metrics)
    return found


def no_params() -> None:
    """Routes without query parameters refuse any, rather than ignore a typo."""
    for name in request.args:
        raise InvalidParameter(name, f"unknown parameter {name!r}; this route takes none")


def options(params: Any, user: str | None = None) -> QueryOptions:
    """The query's options, in the context that holds for it: its own country and max_age,
    else what ``user`` (default: the ``user`` parameter) stored, else the default."""
    values = dict(params)
    return QueryOptions.from_fields(context_of(values, user or values.get("user")),
                                    settings().search_mode, named_filters())


def context_of(values: dict[str, Any], user: str | None) -> dict[str, Any]:
    """``values`` with the request's country and max_age filled in (api/viewer_context.py)."""
    found = services()
    stored = None
    if user and (values.get("country") is None or values.get("max_age") is None):
        store = found.viewers
        assert store is not None
        try:
            stored = found.contexts.get(user, lambda u: Viewers(store.open().store).get(u))
        except EventsUnavailable as exc:  # say which part: the viewer's stored context
            raise EventsUnavailable(
                f"The viewer {user!r}'s stored context (country, age limit) can't be read: "
                "the event database is not answering. Send country and max_age with the "
                "request, or try again shortly.",
                retry_after=exc.details.get("retry_after", 2)) from None
    return with_context(values, stored, found.settings)


def ruled(surface: Surface, options: QueryOptions,
          run: Callable[[QueryOptions], ResultPage]) -> ResultPage:
    """``run(options)``: a surface's answer, with the rules in force laid on it (boosts,
    promotions, pins: :mod:`recommender.viewers.placement`)."""
    return with_rules(services().rules, surface, engine(), options, run)


def named_filters() -> Mapping[str, Node]:
    """The rules' named filters, for an expression's ``@name``."""
    rules = services().rules
    return rules.named if rules is not None else {}


def new_recommendation_id() -> str:
    """Names one answer that recommends, so that events it leads to can say so."""
    return uuid.uuid4().hex


def page_body(engine: Engine, page: ResultPage, synopsis: bool = False,
              experiment: tuple[str, str] | None = None,
              user: str | None = None) -> dict[str, Any]:
    """A page of results as JSON, with its ``recommendation_id`` (its impression queued),
    and the ``experiment`` (name, variant) it was served under, where one."""
    body = page.to_dict()
    # "nothing close": the nearest films are what a client shows, marked as far
    shown = body["results"] or body.get("nearest", [])
    if synopsis:  # for the web page's cards: one request instead of k + 1
        for film in shown:
            film["synopsis"] = engine.film(film["id"]).synopsis
    body["recommendation_id"] = new_recommendation_id()
    impressions.record(engine, [film["id"] for film in shown],
                       body["recommendation_id"], experiment, user,
                       [(film["id"], film["promoted"]) for film in shown if "promoted" in film])
    if experiment is not None:
        body["experiment"] = {"name": experiment[0], "variant": experiment[1]}
    return body


def page(engine: Engine, result: ResultPage, params: Any,
         experiment: tuple[str, str] | None = None) -> Any:
    return jsonify(page_body(engine, result, bool(getattr(params, "synopsis", False)),
                             experiment))


def json_body() -> Any:
    """The body as JSON, parsed strictly: 400 ``invalid_json`` for anything the parser
    can't take (not UTF-8, malformed, too deep, a key given twice), never a 500."""
    if not request.is_json:
        raise UnsupportedMediaType(
            f"Send the body as JSON with Content-Type: application/json "
            f"(got {request.content_type or 'no Content-Type'!r}).")
    raw = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH: 413 before reading
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJson(f"The body is not UTF-8 text ({exc.reason} at byte {exc.start}).",
                          position=exc.start) from None
    return parse_json(text)

