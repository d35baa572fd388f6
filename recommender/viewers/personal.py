"""What each viewer should watch, from what they did: the event store and the engine.

A viewer's newest events (at most ``Settings.max_user_events``) become a *profile*:
each film's weight is the sum of its events' weights (:data:`WEIGHTS`), each halved
every ``event_half_life_days``, so recent taste counts more. Films of positive weight
pull the recommendation, negative ones push it away (:meth:`Engine.recommend_weighted`),
and films the viewer has seen are left out. A viewer with nothing to go on gets what is
trending (recent events, time-decayed), then the catalog's own order: never an error,
never an empty page while the catalog has films. Content vectors are what let one liked
film be enough, where collaborative filtering needs a history first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from recommender.catalog.titles import film_summary
from recommender.config import Settings
from recommender.errors import NothingToRecommendFrom
from recommender.index.film_index import FilmIndex
from recommender.search.engine import Engine
from recommender.search.query import QueryOptions, ResultPage, ScoredFilm
from recommender.viewers import collaborative
from recommender.viewers.blend import CONTENT_WEIGHT, Alignment, blended
from recommender.viewers.collaborative import CollaborativeModel
from recommender.viewers.events import Event, EventStore, default_url, open_store
from recommender.viewers.events.impressions import ImpressionLog
from recommender.viewers.recency import (
    DAY,
    WINDOW_HALF_LIVES,
    DecayedCounts,
    TimeSources,
    arrived,
    decayed,
    event_weight,
    new_mask,
)

__all__ = ["DAY", "Personalizer", "Profile", "build_profile", "decayed", "event_weight",
           "open_personalizer"]


MAX_REASON_FILMS = 20
"""A result's "because you liked X" is the closest of at most this many liked films."""
SEEN_TYPES = frozenset({"view", "like", "dislike", "rating"})
"""Events that mean the viewer has seen the film (a watchlist entry doesn't)."""
REASON_OF = {"like": "liked", "rating": "rated", "view": "watched", "watchlist": "watchlisted"}


@dataclass
class Profile:
    """A viewer's history, summed per film."""

    weights: dict[str, float] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    kind: dict[str, str] = field(default_factory=dict)
    """Per film, the type of its strongest positive event (for the reason's wording)."""
    positives: list[str] = field(default_factory=list)
    """Films liked, rated well or watched most of the way, newest first, each once."""
    newest: dict[str, float] = field(default_factory=dict)
    """Per film, the time of the viewer's newest event of it."""
    events: int = 0

    @property
    def liked(self) -> dict[str, float]:
        return {f: w for f, w in self.weights.items() if w > 0}

    @property
    def disliked(self) -> dict[str, float]:
        return {f: -w for f, w in self.weights.items() if w < 0}


def build_profile(events: Sequence[Event], now: float, half_life_days: float) -> Profile:
    """The profile of ``events`` (newest first), each weighed by ``0.5 ** (age / half_life)``."""
    profile = Profile(events=len(events))
    strongest: dict[str, float] = {}
    for event in events:
        if event.type == "click":  # a film opened from a list: no taste by itself
            continue
        decay = decayed(now - (event.ts or 0.0), half_life_days)
        weight = event_weight(event.type, event.value) * decay
        film = event.film_id
        profile.newest.setdefault(film, event.ts or 0.0)
        profile.weights[film] = profile.weights.get(film, 0.0) + weight
        if event.type in SEEN_TYPES:
            profile.seen.add(film)
        if weight > strongest.get(film, 0.0):
            strongest[film] = weight
            profile.kind[film] = REASON_OF.get(event.type, "liked")
        if event_weight(event.type, event.value) >= 0.5 and film not in profile.positives:
            profile.positives.append(film)
    profile.positives = [f for f in profile.positives if profile.weights[f] > 0]
    return profile


class Personalizer:
    """Per-viewer answers over one event store; the engine is passed to each call, so a
    hot swap of the index never leaves this object behind. ``clock`` is what "now" is:
    the wall clock in the service, the end of the log in ``recommender eval-users``."""

    def __init__(self, store: EventStore, settings: Settings,
                 clock: Callable[[], float] = time.time,
                 model: Callable[[], CollaborativeModel | None] = lambda: None,
                 arrivals: Callable[[FilmIndex], dict[str, float]] = arrived) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.model = model
        """The collaborative model serving now (None: none trained yet), read per request:
        a new one is taken as soon as the server has loaded it."""
        self._alignment: Alignment | None = None
        self.counts = DecayedCounts(store, clock, settings.trending_max_events,
                                    settings.trending_cache_seconds)
        self._arrived = arrivals
        """When each film arrived (its window, the live catalog's additions)."""
        self._arrivals: tuple[str, dict[str, float]] | None = None

    # -- events ----------------------------------------------------------------------

    def record(self, events: Sequence[Event]) -> tuple[int, int]:
        """Store validated events (their films resolved); (stored, duplicates), durable."""
        if not events:
            return 0, 0
        stored = self.store.add(events)
        self.counts.forget()  # this process counts them at once; others within seconds
        return stored

    def history(self, user: str, limit: int) -> list[Event]:
        return self.store.history(user, limit)

    def forget(self, user: str) -> int:
        """Erase the viewer; trending forgets them at its next count (a few seconds)."""
        erased = self.store.delete_user(user)
        ImpressionLog(self.store).forget(user)  # what they were shown goes with them
        self.counts.forget()  # counted again without them by this process at once
        return erased

    def profile(self, user: str) -> Profile:
        events = self.store.history(user, self.settings.max_user_events)
        return build_profile(events, self.clock(), self.settings.event_half_life_days)

    # -- answers ---------------------------------------------------------------------

    def recommend(self, engine: Engine, user: str, options: QueryOptions,
                  include_seen: bool = False, source: str | None = None) -> ResultPage:
        """The viewer's recommendations, each with its ``reasons``."""
        return self.recommend_for(engine, user, self.profile(user), options, include_seen,
                                  source)

    def recommend_for(self, engine: Engine, user: str, profile: Profile,
                      options: QueryOptions, include_seen: bool = False,
                      source: str | None = None) -> ResultPage:
        """:meth:`recommend` from a profile already read (one read for several answers).

        ``source``: one source alone, as an experiment's variant asks (``collaborative``:
        the model without content or time; ``content``: the films' likeness; ``popular``:
        what is popular now; ``trending``: ``GET /trending``'s list); None: the default.
        One chain for all: the blend of the model and the content, then the content alone,
        then what is trending; a source alone takes its own link of it, and where it has
        nothing for this viewer, what is trending.
        """
        options = options.validate(self.settings.max_k)
        exclude = () if include_seen else tuple(sorted(profile.seen))
        echo = {"user": user, "history": profile.events, "include_seen": include_seen}
        liked = {f: w for f, w in profile.liked.items() if f in engine.index.row_of}
        model = self.model() if source in (None, "collaborative") else None
        if model is not None and profile.weights:
            alone = source == "collaborative"
            results = blended(engine, model, self.aligned(engine, model),
                              {} if alone else liked, {} if alone else profile.disliked,
                              list(profile.weights), options, exclude,
                              TimeSources() if alone else self.time_sources(engine, profile),
                              content_weight=0.0 if alone else CONTENT_WEIGHT)
            if results is not None and (results or options.offset):
                return ResultPage({**echo, "basis": source or "history and every viewer's",
                                   "model": model.version, **options.echo()},
                                  results, len(results) == options.k)
        if liked and source in (None, "content"):
            try:
                page = engine.recommend_weighted(liked, profile.disliked, options, exclude)
            except NothingToRecommendFrom:
                page = None
            if page is not None and (page.results or options.offset):
                self._explain(engine, page.results, liked, profile)
                page.query = {**echo, "basis": source or "history", **page.query}
                return page
        if source == "popular":
            page, basis = self.popular(engine, options, exclude), "popular"
        else:
            page = self.trending(engine, options, exclude=exclude)
            basis = "trending" if liked == {} or source is not None else \
                "trending (history filtered out)"
        page.query = {**echo, "basis": basis, **page.query}
        return page

    def popular(self, engine: Engine, options: QueryOptions, exclude: Sequence[str] = ()
                ) -> ResultPage:
        """What is popular now: :meth:`trending` counted as the ranking's popular-now is
        (``popular_half_life_days``, over the window that half-life reads)."""
        half_life = self.settings.popular_half_life_days
        return self.trending(engine, options, WINDOW_HALF_LIVES * half_life, exclude,
                             half_life_days=half_life)

    def trending(self, engine: Engine, options: QueryOptions, window_days: float | None = None,
                 exclude: Sequence[str] = (), half_life_days: float | None = None
                 ) -> ResultPage:
        """Films by recent events, time-decayed, then the catalog's order, filtered by
        ``options``' filters; never empty while any film passes them."""
        options = options.validate(self.settings.max_k)
        window = self.settings.trending_window_days if window_days is None else window_days
        counts = self.counts.counts(window, self.settings.trending_half_life_days
                                    if half_life_days is None else half_life_days)
        excluded = {engine.index.row_of[f] for f in exclude if f in engine.index.row_of}
        allowed = engine.filters.allowed(options, excluded)
        wanted = options.offset + options.k
        hits: list[ScoredFilm] = []
        taken: set[int] = set()
        for film_id, score in counts:
            row = engine.index.row_of.get(film_id)
            if row is None or (allowed is not None and not allowed[row]):
                continue
            hit = ScoredFilm(engine.index.films[row], score)
            hit.reasons = [{"because": "trending"}]
            hits.append(hit)
            taken.add(row)
            if len(hits) > wanted:
                break
        rows = range(len(engine.index)) if allowed is None else np.flatnonzero(allowed)
        for other in rows:  # then the catalog's own order, to fill the page
            if len(hits) > wanted:
                break
            if int(other) not in taken:
                hit = ScoredFilm(engine.index.films[int(other)], 0.0)
                hit.reasons = [{"because": "catalog"}]
                hits.append(hit)
        echo = {"window_days": window, **options.echo()}
        echo.pop("mode", None)  # no ranking mode: counts, then the catalog
        return ResultPage(echo, hits[options.offset:wanted], len(hits) > wanted)

    # -- inside ------------------------------------------------------------------------

    def time_sources(self, engine: Engine, profile: Profile) -> TimeSources:
        """What time adds to this viewer's ranking now (:mod:`recommender.viewers.recency`)."""
        settings = self.settings
        now = self.clock()
        index = engine.index
        popular = self.counts.by_row(index, settings.popular_half_life_days) \
            if settings.popular_weight else None
        new = None
        if settings.new_slots:
            arrivals = self.arrivals(index)
            new = new_mask(index, arrivals, now, settings.new_window_days) if arrivals \
                else None
        # relative to the viewer's own newest event: their old films weigh less than their
        # recent ones however long ago they were last here (and a scale doesn't underflow)
        latest = max(profile.newest.values(), default=now)
        recency = {f: decayed(latest - ts, settings.history_half_life_days)
                   for f, ts in profile.newest.items()} \
            if settings.history_half_life_days else None
        weight = settings.popular_weight
        if settings.popular_activity_half_life_days and profile.newest:
            weight *= decayed(now - max(profile.newest.values()),
                              settings.popular_activity_half_life_days)
        return TimeSources(popular, new, weight, settings.new_slots, recency)

    def arrivals(self, index: FilmIndex) -> dict[str, float]:
        """When each film of ``index`` arrived, where known, made once per index state."""
        cached = self._arrivals
        if cached is None or cached[0] != index.generation:
            cached = self._arrivals = (index.generation, self._arrived(index))
        return cached[1]

    def aligned(self, engine: Engine, model: CollaborativeModel) -> Alignment:
        """The index rows' places in the model, made once per index and model version."""
        alignment = self._alignment
        if alignment is None or alignment.key != (engine.index.generation, model.version):
            alignment = self._alignment = Alignment(engine, model)
        return alignment

    @staticmethod
    def _explain(engine: Engine, results: Sequence[ScoredFilm], liked: dict[str, float],
                 profile: Profile) -> None:
        """Each result's reason: the liked film (of the most liked few) it is closest to."""
        if not results:
            return
        basis = sorted(liked, key=lambda f: -liked[f])[:MAX_REASON_FILMS]
        index = engine.index
        sims = index.vectors([index.row_of[h.film.id] for h in results]) @ \
            index.vectors([index.row_of[f] for f in basis]).T
        for hit, row in zip(results, sims, strict=True):
            closest = basis[int(np.argmax(row))]
            hit.reasons = [{"because": profile.kind.get(closest, "liked"),
                            "film": film_summary(engine.film(closest)),
                            "similarity": round(float(row.max()), 4)}]


def open_personalizer(settings: Settings, *, store: EventStore | None = None,
                      model: Callable[[], CollaborativeModel | None] | None = None,
                      clock: Callable[[], float] = time.time,
                      arrivals: Callable[[FilmIndex], dict[str, float]] = arrived
                      ) -> Personalizer:
    """The one way a :class:`Personalizer` is made: by the server, the CLI and the
    evaluation alike, so ``recommender user-recs`` answers as the HTTP route does.

    Args:
        store: the event store (default: ``settings.events_url``, else the SQLite file
            beside the index), opened here where not given.
        model: the collaborative model serving, read per request (the server's follows
            the index folder); default: the one ``recommender train`` made for the index
            (``<index>/models/current``), loaded once, or none where none was trained.
        clock: what "now" is (the evaluation's: the end of its log).
        arrivals: when each film arrived (the evaluation's: its hidden films).
    """
    if store is None:
        store = open_store(settings.events_url or default_url(settings.index))
    if model is None:
        current = collaborative.current_path(settings.index)
        loaded = collaborative.load(current) if current is not None else None
        model = lambda: loaded  # noqa: E731 (a constant, read as the live one is)
    return Personalizer(store, settings, clock=clock, model=model, arrivals=arrivals)
