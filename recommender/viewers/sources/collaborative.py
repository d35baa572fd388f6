"""Collaborative: what every viewer's events teach (the model of
:mod:`recommender.viewers.collaborative`), from the viewer's own films, the recent ones
counting more (``history_half_life_days``).

A film the model has never seen an event of (new to the catalog, or never watched) has
no score of its own: it takes the weighted mean of its :data:`NEIGHBOURS` closest known
films' (by content), shrunk by :data:`COLD_SHRINK`, and is marked ``imputed`` so that the
blend adds the content's likeness there (docs/viewer-quality.md: the weights were chosen
on development splits of the MovieLens joins).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recommender.catalog.titles import film_summary
from recommender.search.engine import Engine
from recommender.viewers.collaborative import CollaborativeModel
from recommender.viewers.recency import decayed
from recommender.viewers.sources.base import Context, Needs, Scores, standardised

NEIGHBOURS = 10
COLD_SHRINK = 1.0


class Alignment:
    """Where each index row is in a model (-1: the model never saw the film), made once
    per (index version, model version) pair and reused by every request."""

    def __init__(self, engine: Engine, model: CollaborativeModel, vectors: np.ndarray
                 ) -> None:
        self.key = (engine.index.generation, model.version)
        self.model_row = np.array([model.row_of.get(f.id, -1) for f in engine.index.films],
                                  dtype=np.int64)
        self.known = self.model_row >= 0
        self.vectors = vectors
        # each film the model never saw: its NEIGHBOURS closest films the model knows
        self.cold = np.flatnonzero(~self.known)
        known_rows = np.flatnonzero(self.known)
        m = min(NEIGHBOURS, len(known_rows))
        self.neighbours = np.zeros((len(self.cold), m), dtype=np.int64)
        self.neighbour_weights = np.zeros((len(self.cold), m), dtype=np.float32)
        for start in range(0, len(self.cold), 1024):
            rows = self.cold[start:start + 1024]
            sims = self.vectors[rows] @ self.vectors[known_rows].T
            top = np.argpartition(-sims, m - 1, axis=1)[:, :m] if m else sims[:, :0]
            self.neighbours[start:start + len(rows)] = known_rows[top]
            weights = np.maximum(np.take_along_axis(sims, top, axis=1), 0.0)
            self.neighbour_weights[start:start + len(rows)] = \
                weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)


class CollaborativeSource:
    name = "collaborative"

    def __init__(self, needs: Needs) -> None:
        self.model = needs.model
        self._vectors = needs.vectors
        self._alignment: Alignment | None = None

    def aligned(self, engine: Engine, model: CollaborativeModel) -> Alignment:
        """The index rows' places in the model, made once per index and model version."""
        alignment = self._alignment
        if alignment is None or alignment.key != (engine.index.generation, model.version):
            alignment = self._alignment = Alignment(engine, model,
                                                    self._vectors(engine.index))
        return alignment

    def scores(self, context: Context) -> Scores | None:
        """None where no model serves, or it knows none of the viewer's films."""
        model = self.model()
        profile = context.profile
        if model is None or not profile.weights:
            return None
        theirs, block = model.rows_of(list(profile.weights))
        alignment = self.aligned(context.engine, model)
        known = alignment.known
        if not theirs or not known.any():  # (a model of another catalog knows none)
            return None
        half_life = context.settings.history_half_life_days
        if half_life:
            # relative to the viewer's own newest event: their old films weigh less than
            # their recent ones however long ago they were last here
            latest = max(profile.newest.values(), default=context.now)
            recency = np.array([decayed(latest - profile.newest.get(f, latest), half_life)
                                for f in theirs], dtype=np.float32)
            cf = recency @ block
        else:
            cf = block.sum(axis=0)
        values = np.full(len(context.engine.index), -np.inf, dtype=np.float32)
        values[known] = standardised(cf[alignment.model_row[known]])
        if len(alignment.cold) and alignment.neighbours.shape[1]:
            # a film nobody has watched yet scores as its closest watched films do, shrunk:
            # in the same units as the others, so it rises as far as its likeness earns
            values[alignment.cold] = COLD_SHRINK * np.sum(
                values[alignment.neighbours] * alignment.neighbour_weights, axis=1)
        index = context.engine.index
        liked_rows = [index.row_of[f] for f in context.liked]

        def reason(row: int) -> list[dict[str, Any]]:
            """The viewer's film whose viewers most also watched this one, or, for a film
            no one has watched yet, "new" and the liked film it is closest to."""
            if alignment.known[row]:
                weights = block[:, int(alignment.model_row[row])]
                best = int(np.argmax(weights))
                if weights[best] > 0 and theirs[best] in index.row_of:
                    return [{"because": "viewers_also_liked",
                             "film": film_summary(context.engine.film(theirs[best]))}]
                return [{"because": "viewers_like_you"}]
            reasons: list[dict[str, Any]] = [{"because": "new"}]
            if liked_rows:
                similarity = alignment.vectors[liked_rows] @ alignment.vectors[row]
                closest = liked_rows[int(np.argmax(similarity))]
                reasons.append({"because": "liked", "film": film_summary(index.films[closest]),
                                "similarity": round(float(similarity.max()), 4)})
            return reasons

        return Scores(values, reason, imputed=~known)
