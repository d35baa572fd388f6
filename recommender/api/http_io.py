"""What every route shares: the app's state, strict JSON bodies, query options, and the
shape of a page of results (with its ``recommendation_id``).

The blueprints (:mod:`recommender.api.app`, :mod:`recommender.api.viewers`) only parse,
validate, call the engine and shape JSON; what they do alike lives here.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app, jsonify, request

from recommender.api.observability import Metrics
from recommender.config import Settings
from recommender.distribution.live import LiveIndex
from recommender.errors import (
    EventsUnavailable,
    InvalidJson,
    InvalidParameter,
    UnsupportedMediaType,
)
from recommender.search.engine import Engine
from recommender.search.query import QueryOptions, ResultPage
from recommender.strict_json import parse_json

if TYPE_CHECKING:  # imported where first used: routes without viewers never load it
    from recommender.viewers.personal import Personalizer

log = logging.getLogger(__name__)
EXTENSION = "recommender"


@dataclass
class Services:
    """Everything an app's routes reach: one typed object in ``app.extensions``, reached
    through the accessors below (as flaskr's ``get_db()``), never by string keys."""

    settings: Settings
    live: LiveIndex
    metrics: Metrics
    personal: Personalizer | None = None
    """The viewers' side, opened on first use (:func:`personal`)."""
    personal_lock: threading.Lock = field(default_factory=threading.Lock)
    personal_failed_at: float = float("-inf")
    """When opening the event store last failed (tried again a second later)."""
    events_checked: tuple[float, dict[str, Any]] | None = None
    """/ready's last look at the event store: (when, what it said)."""


def services(app: Any = None) -> Services:
    """The services of ``app`` (default: the app of the request being answered)."""
    found = (app or current_app).extensions[EXTENSION]
    assert isinstance(found, Services)
    return found


def live() -> LiveIndex:
    return services().live


def engine() -> Engine:
    return live().engine()


def settings() -> Settings:
    return services().settings


def metrics() -> Metrics:
    return services().metrics


def store_timeout(config: Settings) -> float:
    """How long the event store may wait on its database in a request: well under the
    request budget, so that a locked file or a hung server is a 503 in time."""
    budget_seconds = config.request_budget_seconds or 3.0
    return max(min(budget_seconds * 0.6, 10.0), 0.1)


def personal() -> Personalizer:
    """This process's :class:`~recommender.viewers.personal.Personalizer`, its store opened (and
    migrated) on first use; 503 ``events_unavailable`` while the database can't be
    reached, so the query routes go on answering. Opening is tried again by the next
    request that needs it: a database that comes back is used without a restart."""
    import time

    from recommender.viewers.events import default_url, open_store
    from recommender.viewers.personal import Personalizer

    app_state = services()
    if app_state.personal is not None:
        return app_state.personal
    config = app_state.settings
    unavailable = EventsUnavailable(
        "The event database can't be opened; viewer routes are unavailable for now "
        "(search and more-like-this go on). Try again shortly. Operators: the server's "
        "log says why; check RECOMMENDER_EVENTS_URL.", retry_after=2)
    # one thread tries to open it at a time, and at most once a second: the others are
    # answered at once rather than queued behind a database that doesn't answer
    if time.monotonic() - app_state.personal_failed_at < EVENTS_CHECK_SECONDS or \
            not app_state.personal_lock.acquire(timeout=0.05):
        raise unavailable
    try:
        if app_state.personal is None:
            url = config.events_url or default_url(config.index)
            try:
                # one thread of each worker's is always left for everything else
                store = open_store(url, timeout=store_timeout(config),
                                   concurrency=max(config.threads - 1, 1))
            except (EventsUnavailable, OSError) as exc:  # the store logged the driver's words
                log.error("event store unavailable: %s", getattr(exc, "message", exc))
                app_state.personal_failed_at = time.monotonic()
                raise unavailable from None
            live_index = app_state.live
            app_state.personal = Personalizer(store, config, model=lambda: live_index.model)
    finally:
        app_state.personal_lock.release()
    return app_state.personal


EVENTS_CHECK_SECONDS = 1.0
"""How long /ready reuses its last look at the event store (it is polled often)."""


def events_status() -> dict[str, Any]:
    """Whether the event store answers now (for /ready): ``{"status": "ok"}`` or
    ``{"status": "unavailable", "retry_after": N}``; looked at most once a second."""
    import time

    app_state = services()
    cached = app_state.events_checked
    if cached is not None and time.monotonic() - cached[0] < EVENTS_CHECK_SECONDS:
        return cached[1]
    try:
        personal().store.ping()
        status: dict[str, Any] = {"status": "ok"}
    except EventsUnavailable as exc:
        status = {"status": "unavailable", "retry_after": exc.details.get("retry_after", 2)}
    app_state.events_checked = (time.monotonic(), status)
    return status


def init_services(app: Any, settings: Settings, live: LiveIndex, metrics: Metrics) -> None:
    app.extensions[EXTENSION] = Services(settings, live, metrics)


def no_params() -> None:
    """Routes without query parameters refuse any, rather than ignore a typo."""
    for name in request.args:
        raise InvalidParameter(name, f"unknown parameter {name!r}; this route takes none")


def options(params: Any) -> QueryOptions:
    return QueryOptions.from_fields(dict(params), settings().search_mode)


def new_recommendation_id() -> str:
    """Names one answer that recommends, so that events it leads to can say so."""
    return uuid.uuid4().hex


def page_body(engine: Engine, page: ResultPage, synopsis: bool = False) -> dict[str, Any]:
    """A page of results as JSON, with its ``recommendation_id``."""
    body = page.to_dict()
    if synopsis:  # for the web page's cards: one request instead of k + 1
        for film in body["results"]:
            film["synopsis"] = engine.film(film["id"]).synopsis
    body["recommendation_id"] = new_recommendation_id()
    return body


def page(engine: Engine, result: ResultPage, params: Any) -> Any:
    return jsonify(page_body(engine, result, bool(getattr(params, "synopsis", False))))


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




def start_training(app: Any) -> None:
    """With ``train_every_seconds``, a thread of this worker that retrains the model when it
    is due (one worker of the machine at a time); the watcher then takes it as usual."""
    import time

    from recommender.viewers import collaborative

    config = services(app).settings
    if config.train_every_seconds <= 0 or config.index_url:
        return

    def loop() -> None:
        while True:
            time.sleep(config.train_every_seconds / 4)
            try:
                with app.app_context():
                    store = personal().store
                    films = [f.id for f in engine().index.films]
                report = collaborative.train_if_due(config.index, store, films,
                                                    config.train_every_seconds)
                if report is not None:
                    log.info("trained the collaborative model: %s (%s)",
                             report.path, report.why_not or f"{report.events} events")
            except Exception:  # a store down, no index yet: try again next time
                log.exception("scheduled training")

    threading.Thread(target=loop, name="model-training", daemon=True).start()
