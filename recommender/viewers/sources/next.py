"""What comes next: from the last few films a viewer took to (newest first, each counting
:data:`RECENT_DECAY` times the one after it), the films that other viewers' histories hold
with them, read from the matrix it learns (:meth:`NextSource.learn`, trained with the
model by ``recommender train`` and mapped with it as ``learned["next"]``). Where the
collaborative source reads a viewer's whole history, this one reads what they watched
last: "because you just watched X"."""

from __future__ import annotations

from typing import Any

import numpy as np

from recommender.catalog.titles import film_summary
from recommender.search.engine import Engine
from recommender.viewers.collaborative import CollaborativeModel
from recommender.viewers.sources.base import Context, Needs, Scores, standardised

RECENT = 5
"""The viewer's newest films asked about (liked, rated well, watched most of the way)."""
RECENT_DECAY = 0.7


class NextSource:
    name = "next"

    @staticmethod
    def learn(matrix: Any) -> np.ndarray:
        """Films x films from the viewers x films interactions: how often two films
        share a viewer, each viewer counted ``1 / sqrt(films they interacted with)``.
        Asked with a viewer's last few films, it is the session-kNN of Ludewig and
        Jannach (2018) over every viewer at once: the films of the viewers whose
        histories hold those films, the viewers with short, focused histories counting
        most (a cosine over viewers, summed). The diagonal is 0."""
        from scipy import sparse

        binary = (matrix > 0).astype(np.float32)
        lengths = np.asarray(binary.sum(axis=1), dtype=np.float32).ravel()
        scaled = sparse.diags(1.0 / np.sqrt(np.maximum(lengths, 1.0))) @ binary
        together = np.asarray((binary.T @ scaled).todense(), dtype=np.float32)
        np.fill_diagonal(together, 0.0)
        return together

    def __init__(self, needs: Needs) -> None:
        self.model = needs.model
        self._rows: tuple[tuple[Any, str], np.ndarray] | None = None

    def model_rows(self, engine: Engine, model: CollaborativeModel) -> np.ndarray:
        """Each index row's row in the model (-1: never learnt), once per version pair."""
        key = (engine.index.generation, model.version)
        if self._rows is None or self._rows[0] != key:
            self._rows = (key, np.array([model.row_of.get(f.id, -1)
                                         for f in engine.index.films], dtype=np.int64))
        return self._rows[1]

    def scores(self, context: Context) -> Scores | None:
        """None where no model with this source's matrix serves, or it knows none of the
        viewer's recent films."""
        model = self.model()
        learned = model.learned.get(self.name) if model is not None else None
        if model is None or learned is None:
            return None
        recent = [f for f in context.profile.positives if f in model.row_of][:RECENT]
        if not recent:
            return None
        weights = RECENT_DECAY ** np.arange(len(recent), dtype=np.float32)
        block = np.asarray(learned[[model.row_of[f] for f in recent]], dtype=np.float32)
        rows = self.model_rows(context.engine, model)
        known = rows >= 0
        values = np.zeros(len(context.engine.index), dtype=np.float32)
        values[known] = standardised((weights @ block)[rows[known]])
        engine = context.engine

        def reason(row: int) -> list[dict[str, Any]]:
            if not known[row]:
                return [{"because": "new"}]
            strongest = int(np.argmax(weights * block[:, rows[row]]))
            return [{"because": "just_watched", "film": film_summary(engine.film(
                recent[strongest]))}]

        return Scores(values, reason, imputed=~known)
