"""The catalog as it is now: a built version with the live changes on top and the films
outside their availability window left out, as one index like any other.

Every route takes its candidates from the index it is given, so the films this index
holds are the one filter: a withdrawn film, or one whose licence has ended, is not in
its rows, and no route can return it. The rows are made anew for each state of the
changes (and each time the clock crosses a window's edge); vectors are the stored ones
(no model call), the words are indexed again, from terms kept per film between states.
Without a change or a hidden film, the version itself is served, as built.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import faiss
import numpy as np

from recommender.catalog.changes import Change, next_boundary
from recommender.catalog.films import Film
from recommender.index.film_index import FilmIndex
from recommender.index.lexical import LexicalIndex, TermCounts, lexical_text

log = logging.getLogger(__name__)


def changes_through(manifest: Mapping[str, Any]) -> int:
    """The newest catalog change a version holds (0: none; built from its file alone)."""
    changes = (manifest.get("catalog") or {}).get("changes") or {}
    return int(changes.get("through", 0))


class Terms:
    """Each film's term counts, kept between states of the live catalog (tokenising,
    stemming and counting are most of indexing the words again), over one vocabulary
    that only grows; bounded by the films seen."""

    def __init__(self, index: FilmIndex) -> None:
        self.analyzer = index.lexical.analyzer
        self.vocabulary: dict[str, int] = {}
        self._by_text: dict[str, TermCounts] = {}
        # by the film object too (the version's films are the same objects from state to
        # state): its text isn't even joined again
        self._by_film: dict[int, tuple[Film, TermCounts]] = {}
        self.warmed = False

    def warm(self, films: list[Film]) -> None:
        """Count ``films`` now (a follower does it before the first change comes, so
        that the first change costs what every later one does)."""
        for film in films:
            self.of(film)
        self.warmed = True

    def of(self, film: Film) -> TermCounts:
        known = self._by_film.get(id(film))
        if known is not None and known[0] is film:
            return known[1]
        text = lexical_text(film)
        counts = self._by_text.get(text)
        if counts is None:
            counts = self._by_text[text] = TermCounts.of(self.analyzer.terms(text),
                                                         self.vocabulary)
        self._by_film[id(film)] = (film, counts)
        return counts


def apply_changes(base: FilmIndex, changes: Mapping[str, Change], now: float,
                  terms: Terms, generation: int) -> FilmIndex:
    """The index of ``base``'s films with ``changes`` applied (each film's newest), without
    the films outside their window at ``now``; ``base`` itself where nothing differs.

    Raises:
        ValueError: a change without a vector of ``base``'s dimension (embed it first).
    """
    started = time.perf_counter()
    keep: list[int] = []
    hidden = 0
    for row, film in enumerate(base.films):
        if film.id in changes:
            continue
        if film.available_at(now):
            keep.append(row)
        else:
            hidden += 1
    added = changed = withdrawn = 0
    arrived: dict[str, float] = {}
    extra: list[Change] = []
    for change in sorted(changes.values(), key=lambda c: c.seq):
        known = change.film_id in base.row_of
        if change.film is None:
            withdrawn += known
            continue
        added += not known
        changed += known
        if not known:
            arrived[change.film_id] = change.at
        if not change.film.available_at(now):
            hidden += 1
            continue
        if change.vector is None or change.vector.shape != (base.dimension,):
            raise ValueError(f"change {change.seq} of film {change.film_id!r} has no vector "
                             f"of dimension {base.dimension}")
        extra.append(change)
    if not hidden and not changes:
        return base
    films = [base.films[r] for r in keep] + [c.film for c in extra if c.film is not None]
    vectors = np.empty((len(films), base.dimension), dtype=np.float32)
    if keep:
        vectors[:len(keep)] = base.vectors(keep)
    for i, change in enumerate(extra, start=len(keep)):
        vectors[i] = change.vector
    flat = faiss.IndexFlatIP(base.dimension)  # exact: a state lives until the next build
    if len(films):
        flat.add(vectors)
    lexical = LexicalIndex.from_counts([terms.of(f) for f in films], terms.vocabulary,
                                       terms.analyzer)
    newest = max((c.at for c in changes.values()), default=None)
    overlay = {"generation": generation, "added": added, "changed": changed,
               "withdrawn": withdrawn, "hidden": hidden,
               "through": max((c.seq for c in changes.values()), default=0),
               "newest_change_at": newest, "arrived": arrived,
               "next_window_change_at": _finite(next_boundary(
                   [*base.films, *(c.film for c in changes.values() if c.film)], now))}
    index = FilmIndex(path=base.path, manifest=base.manifest, films=films, faiss_index=flat,
                      lexical=lexical, query_model_path=base.query_model_path,
                      overlay=overlay)
    log.info("live catalog: %d films (%d added, %d changed, %d withdrawn, %d hidden) in "
             "%.2f s", len(films), added, changed, withdrawn, hidden,
             time.perf_counter() - started)
    return index


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None
