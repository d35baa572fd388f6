"""The recommendation logic: a plain object over a loaded index, no HTTP.

``Engine.similar`` and ``Engine.search`` answer the two questions of the
service; both return a :class:`ResultPage` that echoes what was understood.
A title or id query reuses the film's stored vector, so only free text calls
the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recommender.catalog import Film
from recommender.config import Settings
from recommender.embedding import Embedder
from recommender.errors import FilmNotFound, IndexMismatch, InvalidParameter
from recommender.index import FilmIndex
from recommender.titles import TitleResolver, film_summary

DEFAULT_K = 10
SCORE_DECIMALS = 4


@dataclass(frozen=True)
class QueryOptions:
    """What every query takes: how many, from where, and which years."""

    k: int = DEFAULT_K
    offset: int = 0
    year_min: int | None = None
    year_max: int | None = None

    def validate(self, max_k: int = 100) -> QueryOptions:
        if not 1 <= self.k <= max_k:
            raise InvalidParameter("k", f"k must be an integer from 1 to {max_k}, got {self.k}")
        if self.offset < 0:
            raise InvalidParameter("offset", f"offset must be 0 or more, got {self.offset}")
        if (self.year_min is not None and self.year_max is not None
                and self.year_min > self.year_max):
            raise InvalidParameter(
                "year_min", f"year_min ({self.year_min}) is after year_max ({self.year_max})"
            )
        return self

    def echo(self) -> dict[str, Any]:
        d: dict[str, Any] = {"k": self.k, "offset": self.offset}
        if self.year_min is not None:
            d["year_min"] = self.year_min
        if self.year_max is not None:
            d["year_max"] = self.year_max
        return d


@dataclass(frozen=True)
class ScoredFilm:
    film: Film
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {**film_summary(self.film), "score": round(self.score, SCORE_DECIMALS),
                "genres": list(self.film.genres)}


@dataclass
class ResultPage:
    query: dict[str, Any]
    results: list[ScoredFilm]
    has_more: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "results": [r.to_dict() for r in self.results],
                "has_more": self.has_more, **self.extra}


class Engine:
    """Similar films and free-text search over one loaded :class:`FilmIndex`.

    Args:
        index: the loaded index.
        embedder: the model for free-text queries, loaded on first use; it must
            be the model the index was built with.
        settings: limits (``max_k``, ``max_query_chars``).
    """

    def __init__(self, index: FilmIndex, embedder: Embedder,
                 settings: Settings | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings or Settings()
        self.titles = TitleResolver(index.films)
        if embedder.name != index.model:
            raise IndexMismatch(
                f"Index {index.path} was built with model {index.model!r} but the engine "
                f"was given {embedder.name!r}. Rebuild the index or configure its model."
            )

    # -- the catalog -------------------------------------------------------------

    def film(self, film_id: str) -> Film:
        row = self.index.row_of.get(film_id)
        if row is None:
            raise FilmNotFound(film_id)
        return self.index.films[row]

    def films(self, offset: int = 0, limit: int = 20) -> tuple[int, list[Film]]:
        if offset < 0:
            raise InvalidParameter("offset", f"offset must be 0 or more, got {offset}")
        if not 1 <= limit <= 1000:
            raise InvalidParameter("limit", f"limit must be from 1 to 1000, got {limit}")
        return len(self.index.films), self.index.films[offset:offset + limit]

    # -- queries -------------------------------------------------------------------

    def similar(self, film_id: str, options: QueryOptions | None = None) -> ResultPage:
        """The films most like the film ``film_id``; never the film itself."""
        options = (options or QueryOptions()).validate(self.settings.max_k)
        film = self.film(film_id)
        row = self.index.row_of[film.id]
        results, more = self._ranked(self.index.vector(row), options, exclude_row=row)
        return ResultPage({"id": film.id, "resolved": film_summary(film), **options.echo()},
                          results, more)

    def similar_by_title(self, title: str, year: int | None = None,
                         options: QueryOptions | None = None) -> ResultPage:
        """Like :meth:`similar`, the film named by its title (see :mod:`recommender.titles`)."""
        title = self._check_text("title", title, self.settings.max_title_chars)
        resolution = self.titles.resolve(title, year)
        page = self.similar(resolution.film.id, options)
        page.query = {"title": title, **({"year": year} if year is not None else {}),
                      "resolved": film_summary(resolution.film), **resolution.to_dict(),
                      **(options or QueryOptions()).echo()}
        return page

    def search(self, text: str, options: QueryOptions | None = None) -> ResultPage:
        """The films whose synopsis best matches a free-text description."""
        options = (options or QueryOptions()).validate(self.settings.max_k)
        text = self._check_text("q", text, self.settings.max_query_chars)
        vector = self.embedder.encode_query(text)
        if vector.shape[0] != self.index.dimension:
            raise IndexMismatch(
                f"The model makes {vector.shape[0]}-dimensional vectors; the index holds "
                f"{self.index.dimension}-dimensional ones. Rebuild the index."
            )
        results, more = self._ranked(vector, options)
        return ResultPage({"q": text, **options.echo()}, results, more)

    # -- helpers -------------------------------------------------------------------

    def _ranked(self, vector: np.ndarray, options: QueryOptions,
                exclude_row: int | None = None) -> tuple[list[ScoredFilm], bool]:
        allowed = self._allowed(options, exclude_row)
        available = len(self.index) if allowed is None else int(allowed.sum())
        hits = self.index.search(vector, options.offset + options.k, allowed)
        page = hits[options.offset:]
        results = [ScoredFilm(self.index.films[r], s) for r, s in page]
        return results, available > options.offset + options.k

    def _allowed(self, options: QueryOptions, exclude_row: int | None) -> np.ndarray | None:
        if exclude_row is None and options.year_min is None and options.year_max is None:
            return None
        mask = np.ones(len(self.index), dtype=bool)
        years = self.index.years
        # Films without a year can't be said to fall in a year range: left out.
        if options.year_min is not None:
            mask &= years >= options.year_min
        if options.year_max is not None:
            mask &= years <= options.year_max
        if exclude_row is not None:
            mask[exclude_row] = False
        return mask

    @staticmethod
    def _check_text(name: str, value: str, max_chars: int) -> str:
        if not isinstance(value, str) or not value.strip():
            raise InvalidParameter(name, f"{name} must be a non-empty string")
        value = value.strip()
        if len(value) > max_chars:
            raise InvalidParameter(
                name, f"{name} is {len(value)} characters long; the limit is {max_chars}",
                max_length=max_chars,
            )
        return value
