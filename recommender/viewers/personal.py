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

import numpy as np

from recommender.catalog.titles import film_summary
from recommender.config import Settings
from recommender.errors import NothingToRecommendFrom
from recommender.index.film_index import FilmIndex
from recommender.search.engine import Engine
from recommender.search.query import QueryOptions, ResultPage, ScoredFilm
from recommender.storage import Event, EventStore, default_url, open_store
from recommender.storage.impressions import ImpressionLog
from recommender.viewers import collaborative
from recommender.viewers.blend import rank
from recommender.viewers.collaborative import CollaborativeModel
from recommender.viewers.profile import Profile, build_profile
from recommender.viewers.recency import (
    DAY,
    WINDOW_HALF_LIVES,
    DecayedCounts,
    arrived,
    decayed,
    event_weight,
)
from recommender.viewers.sources import SOURCES, Context, RankingWeights, Scores, Source
from recommender.viewers.sources.base import Needs
from recommender.viewers.sources.new import NewSource
from recommender.viewers.tuning import applied

__all__ = ["DAY", "Personalizer", "Profile", "build_profile", "decayed", "event_weight",
           "open_personalizer"]


MAX_REASON_FILMS = 20
"""A result's "because you liked X" is the closest of at most this many liked films."""
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
        self.counts = DecayedCounts(store, clock, settings.trending_max_events,
                                    settings.trending_cache_seconds)
        needs = Needs(model=lambda: self.model(), counts=self.counts, arrivals=arrivals,
                      vectors=self._vectors)
        self._vectors_of: tuple[str, np.ndarray] | None = None
        self._ranking: tuple[tuple[int, str], Settings] | None = None
        self.sources: dict[str, Source] = {name: make(needs) for name, make in SOURCES.items()}
        """Every source of the ranking (:data:`recommender.viewers.sources.SOURCES`)."""

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
        the model without content, popular-now or new films' places; ``content``: the
        films' likeness; ``popular``: what is popular now; ``trending``: ``GET
        /trending``'s list); None: the default.
        One chain for all: the blend of the model and the content, then the content alone,
        then what is trending; a source alone takes its own link of it, and where it has
        nothing for this viewer, what is trending.
        """
        options = options.validate(self.settings.max_k)
        exclude = () if include_seen else tuple(sorted(profile.seen))
        echo = {"user": user, "history": profile.events, "include_seen": include_seen}
        liked = {f: w for f, w in profile.liked.items() if f in engine.index.row_of}
        if source in (None, "collaborative") and profile.weights:
            settings = self.ranking_settings()
            weights = RankingWeights.from_settings(settings)
            if source is not None:
                weights = weights.alone(source)
            context = Context(engine, profile, self.clock(), settings, liked)
            scores = self.scores(context, weights)
            if "collaborative" in scores:
                results = rank(engine, scores, weights, options, exclude)
                if results or options.offset:
                    model = self.model()
                    return ResultPage({**echo, "basis": source or "history and every viewer's",
                                       "model": model.version if model else None,
                                       **options.echo()}, results, len(results) == options.k)
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
        half_life = self.ranking_settings().popular_half_life_days
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

    def ranking_settings(self) -> Settings:
        """The settings the ranking serves with: the model's tuned values in, where the
        operator gave none explicitly (:func:`~recommender.viewers.tuning.applied`)."""
        model = self.model()
        if model is None:
            return self.settings
        key = (id(self.settings), model.version)  # a settings object checked costs 0.6 ms
        cached = self._ranking
        if cached is None or cached[0] != key:
            cached = self._ranking = (key, applied(self.settings, model.tuned))
        return cached[1]

    def scores(self, context: Context, weights: RankingWeights) -> dict[str, Scores]:
        """What each source that counts (its weight above 0) has for this viewer."""
        counted = {name for name in self.sources
                   if getattr(weights, "new_slots" if name == "new" else name, 0)}
        base = self.sources["collaborative"].scores(context)
        if base is None:  # the blend stands on the model: without it, nothing to blend
            return {}
        answers = {name: self.sources[name].scores(context)
                   for name in sorted(counted - {"collaborative"})}
        return {"collaborative": base,
                **{name: found for name, found in answers.items() if found is not None}}

    def _vectors(self, index: FilmIndex) -> np.ndarray:
        """Every film's vector of ``index``, read out once per index version."""
        cached = self._vectors_of
        if cached is None or cached[0] != index.generation:
            cached = self._vectors_of = (index.generation,
                                         index.faiss_index.reconstruct_n(0, len(index)))
        return cached[1]

    def arrivals(self, index: FilmIndex) -> dict[str, float]:
        """When each film of ``index`` arrived, where known, made once per index state."""
        new = self.sources["new"]
        assert isinstance(new, NewSource)
        return new.arrivals(index)

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
