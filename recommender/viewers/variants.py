"""What a variant of an experiment serves a viewer (:mod:`recommender.viewers.experiments`):
the default ranking, the default with other weights, or one source alone; on a film's
surfaces ("more like this", "also liked") and trending, one source instead of the
surface's own."""

from __future__ import annotations

import copy
import dataclasses

from recommender.errors import NothingToRecommendFrom
from recommender.search.engine import Engine
from recommender.search.query import QueryOptions, ResultPage
from recommender.viewers.blend import also_liked, blended
from recommender.viewers.collaborative import CollaborativeModel
from recommender.viewers.experiments import Ranking
from recommender.viewers.personal import Personalizer
from recommender.viewers.recency import WINDOW_HALF_LIVES, TimeSources


def with_weights(personal: Personalizer, ranking: Ranking) -> Personalizer:
    """``personal`` with the ranking's weights in its settings; the store, the counts and
    the caches shared (a view, not a second service)."""
    if not ranking.weights:
        return personal
    view = copy.copy(personal)
    view.settings = dataclasses.replace(personal.settings, **ranking.weights)
    return view


def recommend_variant(personal: Personalizer, engine: Engine, user: str,
                      options: QueryOptions, include_seen: bool,
                      ranking: Ranking) -> ResultPage:
    """The viewer's recommendations as ``ranking`` ranks them."""
    served = with_weights(personal, ranking)
    if ranking.source is None:
        return served.recommend(engine, user, options, include_seen)
    options = options.validate(personal.settings.max_k)
    profile = served.profile(user)
    exclude = () if include_seen else tuple(sorted(profile.seen))
    echo = {"user": user, "history": profile.events, "include_seen": include_seen}
    page = None
    if ranking.source == "popular":
        half_life = served.settings.popular_half_life_days
        page = served.trending(engine, options, WINDOW_HALF_LIVES * half_life, exclude,
                               half_life_days=half_life)
    elif ranking.source == "trending":
        page = served.trending(engine, options, exclude=exclude)
    elif ranking.source == "collaborative":
        model = served.model()
        if model is not None and profile.weights:
            results = blended(engine, model, served.aligned(engine, model), {}, {},
                              list(profile.weights), options, exclude, TimeSources(),
                              content_weight=0.0)
            if results:
                page = ResultPage({**options.echo()}, results, len(results) == options.k)
    elif ranking.source == "content":
        liked = {f: w for f, w in profile.liked.items() if f in engine.index.row_of}
        if liked:
            try:
                page = engine.recommend_weighted(liked, profile.disliked, options, exclude)
            except NothingToRecommendFrom:
                page = None
    if page is None:  # the source has nothing for this viewer: what is trending
        page = served.trending(engine, options, exclude=exclude)
        echo["basis"] = "trending"
    page.query = {**echo, "basis": echo.get("basis", ranking.source), **page.query}
    return page


def film_variant(engine: Engine, film_id: str, options: QueryOptions, ranking: Ranking | None,
                 model: CollaborativeModel | None, personal: Personalizer | None,
                 default: str) -> ResultPage:
    """A film's list (``default``: ``content``, "more like this"; ``collaborative``,
    "also liked") as ``ranking``'s source would make it: the content's neighbours, the
    model's, or what is popular or trending (the film itself left out)."""
    source = ranking.source if ranking is not None and ranking.source else default
    if source == "content":
        return engine.similar(film_id, options)
    if source == "collaborative":
        return also_liked(engine, model, film_id, options)
    engine.film(film_id)  # 404 for an unknown id, as the surface's own answer
    assert personal is not None  # the caller opens the event store for these sources
    exclude = (film_id, *options.exclude)
    if source == "popular":
        half_life = personal.settings.popular_half_life_days
        page = personal.trending(engine, options, WINDOW_HALF_LIVES * half_life, exclude,
                                 half_life_days=half_life)
    else:
        page = personal.trending(engine, options, exclude=exclude)
    page.query = {"id": film_id, "basis": source, **page.query}
    return page


def trending_variant(personal: Personalizer, engine: Engine, options: QueryOptions,
                     window_days: float | None, ranking: Ranking | None,
                     exclude: tuple[str, ...] = ()) -> ResultPage:
    """``GET /trending``, or what is popular now where the variant says ``popular``."""
    if ranking is not None and ranking.source == "popular":
        half_life = personal.settings.popular_half_life_days
        page = personal.trending(engine, options, WINDOW_HALF_LIVES * half_life, exclude,
                                 half_life_days=half_life)
        page.query = {"basis": "popular", **page.query}
        return page
    return personal.trending(engine, options, window_days, exclude)
