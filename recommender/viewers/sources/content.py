"""Content: how like the viewer's liked films (and unlike their disliked ones) each film
is, by the films' vectors (:func:`recommender.search.vectors.weighted_query`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from recommender.catalog.titles import film_summary
from recommender.search.vectors import weighted_query
from recommender.viewers.sources.base import Context, Needs, Scores, standardised


class ContentSource:
    name = "content"

    def __init__(self, needs: Needs) -> None:
        self._vectors = needs.vectors

    def scores(self, context: Context) -> Scores | None:
        index = context.engine.index
        liked = context.liked
        liked_rows = [index.row_of[f] for f in liked]
        if not liked_rows:
            return None
        disliked = {f: w for f, w in context.profile.disliked.items() if f in index.row_of}
        disliked_rows = [index.row_of[f] for f in disliked]
        query = weighted_query(index, liked_rows, np.array([liked[index.films[r].id]
                                                            for r in liked_rows]),
                               disliked_rows, np.array([disliked[index.films[r].id]
                                                        for r in disliked_rows]))
        vectors = self._vectors(index)
        values = standardised(vectors @ query.vector)

        def reason(row: int) -> list[dict[str, Any]]:
            similarity = vectors[liked_rows] @ vectors[row]
            closest = liked_rows[int(np.argmax(similarity))]
            film = index.films[closest]
            return [{"because": context.profile.kind.get(film.id, "liked"),
                     "film": film_summary(film),
                     "similarity": round(float(similarity.max()), 4)}]

        return Scores(values, reason)
