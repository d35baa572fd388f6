"""Every film's "more like this" list, computed once when a server process loads an index.

A streaming service's most common question is "films like this one", asked without
filters. Answering it from a table turns ~0.5 ms of ranking into a slice of arrays
(docs/performance.md). The table holds what the engine's own pipeline answered for
each film, so a page from it is the page the pipeline would give; questions the
table can't answer (filters, a threshold, diversity, explanations, another mode, a
page deeper than the table) go down the pipeline as before.

It lives in each process's memory (28 bytes per film and entry, scores kept as
float64 so that they print as the pipeline's do: 22 MB for 7,787 films at depth
100), so it is made only for catalogs up to a size
(``Settings.similar_table_max_films``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np

from recommender.catalog import Film
from recommender.query import QueryOptions, ScoredFilm

log = logging.getLogger(__name__)

RankOne = Callable[[int, QueryOptions], tuple[list[ScoredFilm], bool]]
"""The pipeline for one film: (row, options) -> (page, whether more follow)."""


class NeighbourTable:
    """Each film's best ``depth`` films in one mode, as arrays (row -1: no entry)."""

    def __init__(self, films: Sequence[Film], mode: str, rows: np.ndarray, scores: np.ndarray,
                 semantic: np.ndarray, lexical: np.ndarray, lengths: np.ndarray,
                 more: np.ndarray) -> None:
        self.films = films
        self.mode = mode
        self.rows, self.scores, self.semantic, self.lexical = rows, scores, semantic, lexical
        self.lengths, self.more = lengths, more

    @property
    def depth(self) -> int:
        return int(self.rows.shape[1])

    @property
    def complete(self) -> bool:
        """Whether each list holds every other film, so that any page is in it."""
        return self.depth >= len(self.films) - 1

    @classmethod
    def compute(cls, films: Sequence[Film], row_of: dict[str, int], rank_one: RankOne,
                mode: str, depth: int) -> NeighbourTable:
        """Ask ``rank_one`` for each film's first ``depth`` films and keep the answers."""
        n = len(films)
        depth = max(1, min(depth, n - 1))
        rows = np.full((n, depth), -1, dtype=np.int32)
        scores, semantic, lexical = (np.full((n, depth), np.nan)
                                     for _ in range(3))
        lengths = np.zeros(n, dtype=np.int32)
        more = np.zeros(n, dtype=bool)
        options = QueryOptions(k=depth, mode=mode)
        started = time.perf_counter()
        for row in range(n):
            hits, more[row] = rank_one(row, options)
            lengths[row] = len(hits)
            for j, hit in enumerate(hits):
                rows[row, j] = row_of[hit.film.id]
                scores[row, j] = hit.score
                semantic[row, j] = np.nan if hit.semantic is None else hit.semantic
                lexical[row, j] = np.nan if hit.lexical is None else hit.lexical
        log.info("more-like-this table: %d films x %d, mode %s, in %.1f s", n, depth, mode,
                 time.perf_counter() - started)
        return cls(films, mode, rows, scores, semantic, lexical, lengths, more)

    def answers(self, options: QueryOptions) -> bool:
        """Whether a page for ``options`` can come from the table."""
        return (options.mode == self.mode and not options.filtered
                and options.min_score is None and options.diversity == 0
                and not options.explain
                and (options.offset + options.k <= self.depth or self.complete))

    def page(self, row: int, options: QueryOptions) -> tuple[list[ScoredFilm], bool]:
        """The page ``options`` asks for (check :meth:`answers` first)."""
        start, end = options.offset, options.offset + options.k
        length = int(self.lengths[row])
        hits = [ScoredFilm(self.films[self.rows[row, j]], float(self.scores[row, j]),
                           semantic=_optional(self.semantic[row, j]),
                           lexical=_optional(self.lexical[row, j]))
                for j in range(start, min(end, length))]
        more = end < length or (end == length and bool(self.more[row]))
        return hits, more


def _optional(value: np.float64) -> float | None:
    return None if np.isnan(value) else float(value)
