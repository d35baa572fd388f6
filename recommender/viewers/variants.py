"""What a variant of an experiment serves a viewer (:mod:`recommender.viewers.experiments`):
the default ranking, the default with other weights, or one source alone; on a film's
surfaces ("more like this", "also liked") and trending, one source instead of the
surface's own."""

from __future__ import annotations

import copy
import dataclasses

from recommender.search.engine import Engine
from recommender.search.query import QueryOptions, ResultPage
from recommender.viewers.blend import also_liked
from recommender.viewers.collaborative import CollaborativeModel
from recommender.viewers.experiments import Ranking
from recommender.viewers.personal import Personalizer


def with_weights(personal: Personalizer, ranking: Ranking) -> Personalizer:
    """``personal`` with the ranking's weights in its settings; the store, the counts and
    the caches shared (a view, not a second service)."""
    if not ranking.weights:
        return personal
    view = copy.copy(personal)
    # the variant's own values are explicit: the model's tuned ones never replace them
    view.settings = dataclasses.replace(personal.settings, **ranking.weights,
                                        explicit=personal.settings.explicit |
                                        set(ranking.weights))
    return view


def recommend_variant(personal: Personalizer, engine: Engine, user: str,
                      options: QueryOptions, include_seen: bool,
                      ranking: Ranking) -> ResultPage:
    """The viewer's recommendations as ``ranking`` ranks them: its weights, its source."""
    return with_weights(personal, ranking).recommend(engine, user, options, include_seen,
                                                     source=ranking.source)


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
        page = personal.popular(engine, options, exclude)
    else:
        page = personal.trending(engine, options, exclude=exclude)
    page.query = {"id": film_id, "basis": source, **page.query}
    return page


def trending_variant(personal: Personalizer, engine: Engine, options: QueryOptions,
                     window_days: float | None, ranking: Ranking | None,
                     exclude: tuple[str, ...] = ()) -> ResultPage:
    """``GET /trending``, or what is popular now where the variant says ``popular``."""
    if ranking is not None and ranking.source == "popular":
        page = personal.popular(engine, options, exclude)
        page.query = {"basis": "popular", **page.query}
        return page
    return personal.trending(engine, options, window_days, exclude)
