"""The ranking pipeline every question goes down: filters inside the search, the mode's
ranking (vectors, words, or both fused), a score threshold, diversity, the page, and its
explanations. A plain object over one index: :class:`~recommender.search.engine.Engine` asks it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recommender import budget
from recommender.config import Settings, fusion_weight
from recommender.index.film_index import FilmIndex
from recommender.ranking import maximal_marginal_relevance, reciprocal_rank_fusion, top_k
from recommender.search.explain import explain
from recommender.search.filters import FilterMasks
from recommender.search.query import QueryOptions, ScoredFilm
from recommender.search.vectors import SemanticQuery

HYBRID_CANDIDATES = 100
"""Candidates each ranking contributes to a hybrid fusion (at least; more for deep pages)."""
DIVERSITY_POOL = 30
"""Least number of candidates that diversity re-ranks (three times the page's depth for
deep pages; with ``offset + k`` at most 1,000, at most 3,000)."""


class Ranker:
    """One page of films for a query's vector side and words, by ``options``."""

    def __init__(self, index: FilmIndex, settings: Settings, filters: FilterMasks) -> None:
        self.index = index
        self.settings = settings
        self.filters = filters

    def rank(self, semantic: SemanticQuery, terms: list[str], options: QueryOptions, *,
              exclude_rows: set[int] | None = None, liked_rows: Sequence[int] = (),
              query_text: str | None = None) -> tuple[list[ScoredFilm], bool]:
        """One page of films, ranked by ``options.mode``, filtered inside the search.

        The vector side is asked only where the mode needs it, so a lexical query
        never calls the model. Returns the page and whether more films follow.
        """
        budget.check("filters")
        allowed = self.filters.allowed(options, exclude_rows or set())
        wanted = options.offset + options.k
        pool = wanted + 1  # one more than the page tells whether more follow
        if options.diversity > 0:
            pool = max(pool, 3 * wanted, DIVERSITY_POOL)
        films = self.index.films
        hits: list[ScoredFilm]
        if options.mode == "semantic":
            hits = [ScoredFilm(films[r], s, semantic=s)
                    for r, s in semantic.search(pool, allowed)]
        else:
            lexical_scores = self.index.lexical.scores(terms)
            budget.check("word scores")
            if options.mode == "lexical":
                hits = [ScoredFilm(films[r], s, lexical=s)
                        for r, s in top_k(lexical_scores, pool, allowed, min_score=0.0)]
            else:
                depth = max(HYBRID_CANDIDATES, pool)
                semantic_hits = semantic.search(depth, allowed)
                budget.check("vector search")
                lexical_hits = top_k(lexical_scores, depth, allowed, min_score=0.0)
                weight = fusion_weight(self.settings)
                fused = reciprocal_rank_fusion(
                    [[r for r, _ in semantic_hits], [r for r, _ in lexical_hits]],
                    weights=[weight, 1.0 - weight], rrf_k=self.settings.rrf_k)
                cosine = dict(semantic_hits)
                # the words found some films the vectors didn't rank: their cosines at once
                unranked = [r for r, _ in fused[:pool] if r not in cosine]
                if unranked:
                    cosine |= zip(unranked, semantic.scores(unranked).tolist(), strict=True)
                hits = [ScoredFilm(films[r], s, semantic=cosine[r],
                                   lexical=float(lexical_scores[r]) or None)
                        for r, s in fused[:pool]]
        budget.check("ranking")
        if options.min_score is not None:
            hits = [h for h in hits if h.score >= options.min_score]
        if options.diversity > 0 and hits:
            vectors = self.index.vectors([self.index.row_of[h.film.id] for h in hits])
            # only as many picks as the page and the one after it: the rest is never shown
            order = maximal_marginal_relevance(np.array([h.score for h in hits]), vectors,
                                               wanted + 1, options.diversity,
                                               check=lambda: budget.check("diversity"))
            hits = [hits[i] for i in order]
        page = hits[options.offset:wanted]
        if options.explain:
            for hit in page:
                hit.explanation = explain(self.index, hit, liked_rows, query_text)
        return page, len(hits) > wanted
