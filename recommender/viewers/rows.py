"""A viewer's home screen as rows, each saying why it is there (``GET /users/{u}/rows``):

1. "Because you liked X": one row per recent positive film, newest first, its films the
   closest to X by content;
2. "Trending this week": what every viewer's events of the last :data:`TRENDING_DAYS`
   days make popular (time-decayed as ``GET /trending``), only where something is;
3. "New on the service": films that arrived within ``new_window_days`` (their
   ``available_from``, or their addition to the live catalog), newest first, where any did.

No film is in two rows and none the viewer has seen. A viewer with no row of the first
kind and a service with nothing trending yet get one row of the catalog's own order,
titled so ("From the catalog"): the home screen is never empty while films pass the
filters, and never calls the catalog's order trending.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from recommender.catalog.titles import film_summary
from recommender.search.engine import Engine
from recommender.search.query import QueryOptions, ScoredFilm
from recommender.viewers.personal import Personalizer

TRENDING_DAYS = 7.0
TITLE_OF = {"liked": "Because you liked", "rated": "Because you rated",
            "watched": "Because you watched", "watchlisted": "Because you watchlisted"}


def home_rows(personal: Personalizer, engine: Engine, user: str, rows: int, k: int,
              options: QueryOptions) -> list[dict[str, Any]]:
    """At most ``rows`` "because" rows of ``k`` films, then the trending and new rows."""
    profile = personal.profile(user)
    used = set(profile.seen)
    out: list[dict[str, Any]] = []

    def row_options() -> QueryOptions:
        return dataclasses.replace(options, k=k, offset=0,
                                   exclude=tuple(sorted(used | set(options.exclude))))

    for film_id in profile.positives:
        if len(out) >= rows:
            break
        if film_id not in engine.index.row_of:
            continue
        page = engine.similar(film_id, row_options())
        if not page.results:
            continue
        reason = profile.kind.get(film_id, "liked")
        because = film_summary(engine.film(film_id))
        for hit in page.results:
            hit.reasons = [{"because": reason, "film": because}]
        used |= {h.film.id for h in page.results}
        out.append({"title": f"{TITLE_OF.get(reason, 'Because you liked')} "
                             f"{because['title']}",
                    "because": because, "reason": reason, "results": page.results})
    page = personal.trending(engine, row_options(), window_days=TRENDING_DAYS,
                             exclude=tuple(sorted(used)))
    trending = [h for h in page.results if h.score > 0]  # counted, not the catalog
    if trending:
        used |= {h.film.id for h in trending}
        out.append({"title": "Trending this week", "because": None, "reason": "trending",
                    "window_days": TRENDING_DAYS, "results": trending})
    new = _new_films(personal, engine, row_options())
    if new:
        used |= {h.film.id for h in new}
        out.append({"title": "New on the service", "because": None,
                    "reason": "new_on_the_service",
                    "window_days": personal.settings.new_window_days, "results": new})
    if not out:  # nothing to go on and nothing popular: the catalog's order, said so
        out.append({"title": "From the catalog", "because": None, "reason": "catalog",
                    "results": page.results})
    return out


def _new_films(personal: Personalizer, engine: Engine, options: QueryOptions
               ) -> list[ScoredFilm]:
    """Films arrived within the window, newest first, through the row's filters."""
    index = engine.index
    now = personal.clock()
    since = now - personal.settings.new_window_days * 86_400.0
    arrivals = [(at, film_id) for film_id, at in personal.arrivals(index).items()
                if since <= at <= now]
    if not arrivals:
        return []
    excluded = {index.row_of[f] for f in options.exclude if f in index.row_of}
    allowed = engine.filters.allowed(options, excluded)
    hits = []
    for _, film_id in sorted(arrivals, key=lambda a: (-a[0], a[1])):
        row = index.row_of[film_id]
        if allowed is not None and not allowed[row]:
            continue
        hit = ScoredFilm(index.films[row], 0.0)
        hit.reasons = [{"because": "new_on_the_service"}]
        hits.append(hit)
        if len(hits) >= options.k:
            break
    return hits
