"""What comes next: from the last few films a viewer took to (newest first, each counting
:data:`RECENT_DECAY` times the one after it), the films that other viewers' histories hold
with them, read from the model's ``next`` matrix
(:func:`recommender.viewers.collaborative.next_weights`, trained with the model by
``recommender train``). Where the collaborative source reads a viewer's whole history,
this one reads what they watched last: "because you just watched X"."""

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
        """None where no model with a ``next`` matrix serves, or it knows none of the
        viewer's recent films."""
        model = self.model()
        if model is None or model.next is None:
            return None
        recent = [f for f in context.profile.positives if f in model.row_of][:RECENT]
        if not recent:
            return None
        weights = RECENT_DECAY ** np.arange(len(recent), dtype=np.float32)
        block = np.asarray(model.next[[model.row_of[f] for f in recent]], dtype=np.float32)
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
