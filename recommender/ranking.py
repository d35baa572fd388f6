"""Ranking as pure functions over arrays: top-k, and fusing two rankings.

Nothing here knows about films, FAISS or HTTP; each function is tested
against a brute-force answer on small hand-made arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

RRF_K = 60
"""The rank constant of reciprocal rank fusion in Cormack et al. (2009)."""


def top_k(scores: np.ndarray, k: int, allowed: np.ndarray | None = None,
          min_score: float | None = None) -> list[tuple[int, float]]:
    """The ``k`` best ``(row, score)`` pairs of ``scores``, best first.

    Ties are broken by row, so results are deterministic. Rows outside
    ``allowed`` (a boolean mask) or at or below ``min_score`` are left out.
    """
    keep = np.ones(scores.shape[0], dtype=bool) if allowed is None else allowed.copy()
    if min_score is not None:
        keep &= scores > min_score
    rows = np.flatnonzero(keep)
    if rows.size == 0 or k <= 0:
        return []
    if rows.size > k:
        # keep every row tied with the k-th best, so ties break by row below
        kth_best = -np.partition(-scores[rows], k - 1)[k - 1]
        rows = rows[scores[rows] >= kth_best]
    order = np.lexsort((rows, -scores[rows]))[:k]
    return [(int(rows[i]), float(scores[rows[i]])) for i in order]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]],
                           weights: Sequence[float] | None = None,
                           rrf_k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse ranked lists of rows: ``score(d) = sum_i w_i / (rrf_k + rank_i(d))``.

    The score is divided by its largest possible value (first in every list),
    so it lies in (0, 1] and means the same for every query: 1.0 is "first
    everywhere". Rows missing from a list get nothing from it.
    """
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    best = sum(w / (rrf_k + 1) for w in weights)
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, row in enumerate(ranking, start=1):
            fused[row] = fused.get(row, 0.0) + weight / (rrf_k + rank)
    items = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
    return [(row, score / best) for row, score in items]


def maximal_marginal_relevance(relevance: np.ndarray, vectors: np.ndarray, k: int,
                               diversity: float,
                               check: Callable[[], None] | None = None) -> list[int]:
    """Reorder candidates so that each next one is relevant *and* unlike those above.

    Picks, one at a time, the candidate maximising
    ``(1 - diversity) * relevance - diversity * max_similarity_to_picked``
    (Carbonell and Goldstein, 1998). ``relevance`` is scaled to [0, 1] first,
    so that it weighs like a cosine whatever the mode's score. The first pick
    is always the most relevant.

    Args:
        relevance: one score per candidate, higher is better.
        vectors: unit vectors of the candidates, row for row.
        k: how many to pick: the work is ``k`` passes over the candidates, so ask for
            no more than will be shown.
        diversity: 0 keeps the relevance order; 1 maximises dissimilarity.
        check: called every few picks; it may raise to stop the work.

    Returns:
        Candidate positions, in the order picked (``min(k, len(relevance))`` of them).
    """
    n = relevance.shape[0]
    if n == 0 or k <= 0:
        return []
    span = float(relevance.max() - relevance.min())
    rel = (relevance - relevance.min()) / span if span > 0 else np.ones(n)
    picked = [int(np.argmax(rel))]
    max_sim = vectors @ vectors[picked[0]]
    available = np.ones(n, dtype=bool)
    available[picked[0]] = False
    while len(picked) < min(k, n):
        if check is not None and len(picked) % 32 == 0:
            check()
        gain = (1.0 - diversity) * rel - diversity * max_sim
        gain[~available] = -np.inf
        # ties go to the more relevant candidate, then the earlier one
        tied = np.flatnonzero(gain == gain.max())
        best = int(tied[np.lexsort((tied, -rel[tied]))[0]]) if tied.size > 1 else int(tied[0])
        picked.append(best)
        available[best] = False
        max_sim = np.maximum(max_sim, vectors @ vectors[best])
    return picked
