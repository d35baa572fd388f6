"""Why a film is in a result list (``explain=true``): its scores, the liked film it is
closest to, and the words it shares with that film or with the query text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from recommender.catalog.titles import film_summary
from recommender.index.film_index import FilmIndex
from recommender.search.query import SCORE_DECIMALS, ScoredFilm


def explain(index: FilmIndex, hit: ScoredFilm, liked_rows: Sequence[int],
            query_text: str | None) -> dict[str, Any]:
    """The explanation of ``hit``, for a query that liked ``liked_rows`` and/or gave text."""
    row = index.row_of[hit.film.id]
    lexical = index.lexical
    out: dict[str, Any] = {
        "semantic": None if hit.semantic is None else round(hit.semantic, SCORE_DECIMALS),
        "lexical": None if hit.lexical is None else round(hit.lexical, SCORE_DECIMALS),
    }
    if liked_rows:
        vector = index.vector(row)
        sims = [float(vector @ index.vector(r)) for r in liked_rows]
        best = int(np.argmax(sims))
        closest = index.films[liked_rows[best]]
        out["closest_liked"] = {**film_summary(closest),
                                "similarity": round(sims[best], SCORE_DECIMALS)}
        out["shared_words"] = lexical.shared_words(hit.film.synopsis, closest.synopsis)
    if query_text:
        out["query_words"] = lexical.shared_words(hit.film.synopsis, query_text, query=True)
    return out
