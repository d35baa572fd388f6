"""The recommendation logic: a plain object over a loaded index, no HTTP.

``Engine.similar`` and ``Engine.search`` answer the two questions of the
service; both return a :class:`ResultPage` that echoes what was understood.
A title or id query reuses the film's stored vector, so only free text calls
the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recommender.catalog import Film
from recommender.config import Settings
from recommender.embedding import Embedder
from recommender.errors import FilmNotFound, IndexMismatch, InvalidParameter
from recommender.index import FilmIndex
from recommender.lexical import lexical_text
from recommender.ranking import reciprocal_rank_fusion, top_k
from recommender.titles import TitleResolver, film_summary

DEFAULT_K = 10
SCORE_DECIMALS = 4
MODES = ("semantic", "lexical", "hybrid")
DEFAULT_MODE = "hybrid"
"""The mode ``recommender eval`` measured best on the shipped labelled sets."""
HYBRID_CANDIDATES = 100
"""Candidates each ranking contributes to a hybrid fusion (at least; more for deep pages)."""


@dataclass(frozen=True)
class QueryOptions:
    """What every query takes: how many, from where, and which years."""

    k: int = DEFAULT_K
    offset: int = 0
    year_min: int | None = None
    year_max: int | None = None
    mode: str = DEFAULT_MODE

    def validate(self, max_k: int = 100) -> QueryOptions:
        if self.mode not in MODES:
            raise InvalidParameter(
                "mode", f"mode must be one of {', '.join(MODES)}, got {self.mode!r}"
            )
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
        d: dict[str, Any] = {"mode": self.mode, "k": self.k, "offset": self.offset}
        if self.year_min is not None:
            d["year_min"] = self.year_min
        if self.year_max is not None:
            d["year_max"] = self.year_max
        return d


@dataclass(frozen=True)
class ScoredFilm:
    """A film in a result list. ``score`` is the mode's own score (see README);
    ``semantic`` (cosine) and ``lexical`` (BM25) are its parts, where computed."""

    film: Film
    score: float
    semantic: float | None = None
    lexical: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {**film_summary(self.film), "score": round(self.score, SCORE_DECIMALS),
             "genres": list(self.film.genres)}
        parts = {name: round(value, SCORE_DECIMALS) for name, value in
                 (("semantic", self.semantic), ("lexical", self.lexical)) if value is not None}
        if parts:
            d["scores"] = parts
        return d


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
        terms = [] if options.mode == "semantic" else \
            self.index.lexical.distinctive_terms(lexical_text(film))
        results, more = self._ranked(lambda: self.index.vector(row), terms, options,
                                     exclude_row=row)
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
        terms = [] if options.mode == "semantic" else \
            self.index.lexical.analyzer.query_terms(text)
        results, more = self._ranked(lambda: self._embed(text), terms, options)
        return ResultPage({"q": text, **options.echo()}, results, more)

    def _embed(self, text: str) -> np.ndarray:
        vector = self.embedder.encode_query(text)
        if vector.shape[0] != self.index.dimension:
            raise IndexMismatch(
                f"The model makes {vector.shape[0]}-dimensional vectors; the index holds "
                f"{self.index.dimension}-dimensional ones. Rebuild the index."
            )
        return vector

    # -- helpers -------------------------------------------------------------------

    def _ranked(self, vector: Callable[[], np.ndarray], terms: list[str],
                options: QueryOptions, exclude_row: int | None = None,
                ) -> tuple[list[ScoredFilm], bool]:
        """One page of films, ranked by ``options.mode``.

        ``vector`` is called only where the mode needs it, so a lexical query
        never calls the model.
        """
        allowed = self._allowed(options, exclude_row)
        available = len(self.index) if allowed is None else int(allowed.sum())
        wanted = options.offset + options.k
        films = self.index.films
        if options.mode == "semantic":
            hits = self.index.search(vector(), wanted, allowed)
            page = [ScoredFilm(films[r], s, semantic=s) for r, s in hits[options.offset:]]
            return page, available > wanted

        lexical_scores = self.index.lexical.scores(terms)
        if options.mode == "lexical":
            hits = top_k(lexical_scores, wanted, allowed, min_score=0.0)
            matching = int(np.count_nonzero(
                lexical_scores > 0 if allowed is None else (lexical_scores > 0) & allowed))
            page = [ScoredFilm(films[r], s, lexical=s) for r, s in hits[options.offset:]]
            return page, matching > wanted

        depth = max(HYBRID_CANDIDATES, 2 * wanted)
        query_vector = vector()
        semantic_hits = self.index.search(query_vector, depth, allowed)
        lexical_hits = top_k(lexical_scores, depth, allowed, min_score=0.0)
        weight = self.settings.semantic_weight
        fused = reciprocal_rank_fusion(
            [[r for r, _ in semantic_hits], [r for r, _ in lexical_hits]],
            weights=[weight, 1.0 - weight], rrf_k=self.settings.rrf_k)
        cosine = dict(semantic_hits)
        page = []
        for row, score in fused[options.offset:wanted]:
            semantic = cosine.get(row)
            if semantic is None:  # found by its words only: its cosine, for the record
                semantic = float(self.index.vector(row) @ query_vector)
            lexical = float(lexical_scores[row])
            page.append(ScoredFilm(films[row], score, semantic=semantic,
                                   lexical=lexical if lexical > 0 else None))
        return page, available > wanted

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
