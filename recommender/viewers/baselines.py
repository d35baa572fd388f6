"""The baselines every per-viewer figure is measured beside (``recommender eval-users``):
what a recommender must beat to be worth its keep.

- **most popular**: films by how many viewers interacted with them, over the whole log;
- **popular (decayed)**: the same, each event halved every :data:`DECAY_DAYS` before the
  log's end (recent popularity, the "trending" of a long log);
- **item-kNN**: the classic collaborative model, cosine similarity between films' viewer
  sets, a viewer's score the sum over their films;
- **EASE**: :mod:`recommender.viewers.collaborative`'s model alone, without content.

Each is fitted on the same history the service learns from and ranks the same candidates
(the films the viewer has no event of).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recommender.storage import Event
from recommender.viewers.collaborative import DEFAULT_LAMBDA, ease_weights, interaction_matrix
from recommender.viewers.recency import decayed

DECAY_DAYS = 30.0


class Baselines:
    """Every baseline, fitted once on ``history`` over the catalog's ``films``."""

    NAMES = ("most popular", "popular (decayed)", "item-kNN", "EASE")

    def __init__(self, history: Sequence[Event], films: Sequence[str], now: float,
                 lam: float = DEFAULT_LAMBDA) -> None:
        self.films = list(films)
        self.row_of = {f: i for i, f in enumerate(self.films)}
        matrix, _, learnt = interaction_matrix(((e.user, e.film_id) for e in history),
                                               self.films)
        self.learnt = [self.row_of[f] for f in learnt]
        self.popular = np.zeros(len(self.films), dtype=np.float64)
        self.popular[self.learnt] = np.asarray(matrix.sum(axis=0)).ravel()
        self.decayed = np.zeros(len(self.films), dtype=np.float64)
        for event in history:
            row = self.row_of.get(event.film_id)
            if row is not None:
                self.decayed[row] += decayed(now - (event.ts or now), DECAY_DAYS)
        self.column = {f: j for j, f in enumerate(learnt)}
        dense = np.asarray(matrix.todense(), dtype=np.float32) if matrix.shape[0] else \
            np.zeros((0, len(learnt)), dtype=np.float32)
        norms = np.linalg.norm(dense, axis=0) + 1e-9
        self.knn = (dense.T @ dense) / np.outer(norms, norms)
        np.fill_diagonal(self.knn, 0.0)
        self.ease = ease_weights(matrix, lam) if len(learnt) else self.knn

    def rank(self, name: str, seen: set[str], k: int) -> list[str]:
        """The ``k`` films baseline ``name`` ranks first for a viewer who has seen ``seen``."""
        if name == "most popular":
            scores = self.popular.copy()
        elif name == "popular (decayed)":
            scores = self.decayed.copy()
        else:
            weights = self.knn if name == "item-kNN" else self.ease
            columns = [self.column[f] for f in seen if f in self.column]
            scores = np.full(len(self.films), -np.inf)
            if columns:
                scores[self.learnt] = weights[columns].sum(axis=0)
            else:  # nothing to go on: what the service does too, the popular films
                scores = self.popular.copy()
        for film in seen:
            row = self.row_of.get(film)
            if row is not None:
                scores[row] = -np.inf
        order = np.argsort(-scores, kind="stable")[:k]
        return [self.films[int(i)] for i in order if np.isfinite(scores[int(i)])]
