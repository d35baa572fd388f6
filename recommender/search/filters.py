"""Which films a query may return: its filters as a boolean mask over the index's rows.

The mask goes into the search itself (:meth:`recommender.index.film_index.FilmIndex.search`), so
``k`` films come back whenever ``k`` films pass, rather than a post-filtered short list.
"""

from __future__ import annotations

import numpy as np

from recommender.index.film_index import FilmIndex
from recommender.search.query import QueryOptions


class FilterMasks:
    """The per-film fields filters look at, laid out once per loaded index."""

    def __init__(self, index: FilmIndex) -> None:
        self.index = index
        self._genres = [frozenset(g.casefold() for g in f.genres) for f in index.films]
        self._languages = np.array([f.language or "" for f in index.films])

    def allowed(self, options: QueryOptions, exclude_rows: set[int]) -> np.ndarray | None:
        """The rows ``options`` allows, minus ``exclude_rows``; None: every row."""
        if not options.filtered and not exclude_rows:
            return None
        mask = np.ones(len(self.index), dtype=bool)
        years = self.index.years
        # Films without a year can't be said to fall in a year range: left out.
        if options.year_min is not None:
            mask &= years >= options.year_min
        if options.year_max is not None:
            mask &= years <= options.year_max
        if options.genres:
            wanted = {g.casefold() for g in options.genres}
            mask &= np.fromiter((bool(g & wanted) for g in self._genres), dtype=bool,
                                count=len(self._genres))
        if options.language:
            mask &= self._languages == options.language.lower()
        for film_id in options.exclude:
            row = self.index.row_of.get(film_id)
            if row is not None:
                mask[row] = False
        for row in exclude_rows:
            mask[row] = False
        return mask
