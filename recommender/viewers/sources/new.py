"""New on the service: films that arrived within ``new_window_days`` (their
``available_from``, or their addition to the live catalog). Not a score but places: the
blend keeps ``new_slots`` of a page for the new films that fit the viewer best, until
events teach the model about them (:mod:`recommender.viewers.recency`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from recommender.index.film_index import FilmIndex
from recommender.viewers.recency import new_mask
from recommender.viewers.sources.base import Context, Needs, Scores


class NewSource:
    name = "new"

    def __init__(self, needs: Needs) -> None:
        self._arrived = needs.arrivals
        self._arrivals: tuple[Any, dict[str, float]] | None = None

    def arrivals(self, index: FilmIndex) -> dict[str, float]:
        """When each film of ``index`` arrived, where known, made once per index state."""
        cached = self._arrivals
        if cached is None or cached[0] != index.generation:
            cached = self._arrivals = (index.generation, self._arrived(index))
        return cached[1]

    def scores(self, context: Context) -> Scores | None:
        """1 for the films new on the service, 0 for the others; None where none is."""
        index = context.engine.index
        arrivals = self.arrivals(index)
        if not arrivals:
            return None
        mask = new_mask(index, arrivals, context.now, context.settings.new_window_days)
        if not mask.any():
            return None

        def reason(row: int) -> list[dict[str, Any]]:
            return [{"because": "new_on_the_service"}]

        return Scores(mask.astype(np.float32), reason)

