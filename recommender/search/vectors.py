"""The vector side of a query: one query vector (a film's, a text's, liked films' mean)
or the best similarity to several, searched in FAISS and scored for any row.

Made lazily, so that a query whose mode needs no vectors never calls the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from recommender.index.film_index import FilmIndex
from recommender.ranking import top_k


class SemanticQuery(Protocol):
    """The vector side of a query: its best rows, and any row's score."""

    def search(self, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]: ...

    def scores(self, rows: Sequence[int]) -> np.ndarray: ...


class VectorQuery:
    """Cosine similarity to one query vector, computed on first use."""

    def __init__(self, index: FilmIndex, make_vector: Callable[[], np.ndarray]) -> None:
        self.index = index
        self._make = make_vector
        self._vector: np.ndarray | None = None

    @property
    def vector(self) -> np.ndarray:
        if self._vector is None:
            self._vector = self._make()
        return self._vector

    def search(self, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        return self.index.search(self.vector, depth, allowed)

    def scores(self, rows: Sequence[int]) -> np.ndarray:
        return self.index.vectors(rows) @ self.vector


class BestScoreQuery:
    """Each film scored by its best similarity to a liked vector minus its best
    similarity to a disliked one. The liked vectors (a model call, where query text
    is one of them) are made on first use."""

    def __init__(self, index: FilmIndex, make_liked: Callable[[], list[np.ndarray]],
                 disliked: np.ndarray) -> None:
        self.index = index
        self._make_liked = make_liked
        self._liked: np.ndarray | None = None
        self.disliked = disliked

    @property
    def liked(self) -> np.ndarray:
        if self._liked is None:
            self._liked = np.stack(self._make_liked())
        return self._liked

    def scores(self, rows: Sequence[int]) -> np.ndarray:
        vectors = self.index.vectors(rows)
        scores = (vectors @ self.liked.T).max(axis=1)
        if len(self.disliked):
            scores -= (vectors @ self.disliked.T).max(axis=1)
        return scores

    def search(self, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        # A film's best liked similarity puts it in that liked film's own top list,
        # so the union of those lists holds the best films (exact when depth >= n).
        candidates = sorted(
            {r for v in self.liked for r, _ in self.index.search(v, depth, allowed)})
        if not candidates:
            return []
        return [(candidates[i], s) for i, s in top_k(self.scores(candidates), depth)]


def _unit(vector: np.ndarray, liked_mean: np.ndarray) -> np.ndarray:
    """``vector`` at unit length; where the dislikes cancel the likes exactly (zero norm),
    the liked films' mean instead: the one rule of both preference queries (they had
    disagreed: one fell back to the mean, the other returned the zero vector)."""
    norm = float(np.linalg.norm(vector))
    if norm == 0:
        vector, norm = liked_mean, float(np.linalg.norm(liked_mean))
    return (vector / norm if norm > 0 else vector).astype(np.float32)


def preference_query(index: FilmIndex, liked_rows: list[int], disliked_rows: list[int],
                     embed: Callable[[str], np.ndarray] | None, query: str | None,
                     strategy: str) -> SemanticQuery:
    """The vector side of a recommendation (``Engine.recommend``'s strategies)."""
    def liked_vectors() -> list[np.ndarray]:
        vectors = [index.vector(r) for r in liked_rows]
        return vectors + ([embed(query)] if query and embed else [])

    disliked = index.vectors(disliked_rows) \
        if disliked_rows else np.empty((0, index.dimension), dtype=np.float32)
    if strategy == "best_score":
        return BestScoreQuery(index, liked_vectors, disliked)

    def average() -> np.ndarray:
        mean_liked = np.mean(liked_vectors(), axis=0)
        vector = mean_liked if not len(disliked) else 2 * mean_liked - disliked.mean(axis=0)
        return _unit(vector, mean_liked)

    return VectorQuery(index, average)


def weighted_query(index: FilmIndex, liked_rows: list[int], liked_weights: np.ndarray,
                   disliked_rows: list[int], disliked_weights: np.ndarray) -> VectorQuery:
    """``2 * wmean(liked) - wmean(disliked)``: the average strategy, each film weighed."""
    def vector() -> np.ndarray:
        liked = liked_weights @ index.vectors(liked_rows) / liked_weights.sum()
        mean = liked
        if disliked_rows:
            mean = 2 * liked - disliked_weights @ index.vectors(disliked_rows) / \
                disliked_weights.sum()
        return _unit(mean, liked)

    return VectorQuery(index, vector)
