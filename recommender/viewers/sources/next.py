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
from recommender.viewers.collaborative import CollaborativeModel, Interactions
from recommender.viewers.sources.base import Context, Needs, Scores, standardised

RECENT = 5
"""The viewer's newest films asked about (liked, rated well, watched most of the way)."""
RECENT_DECAY = 0.7
LEARN_CONTEXT = 5
"""The films before each one that training reads as its context."""
LEARN_DECAY = 0.9
LEARN_LAMBDA = 200.0
"""The transition model's L2 weight and its context's decay, chosen on the development
splits of the MovieLens joins (lambda 50, 200; decay 0.7, 0.9)."""


class NextSource:
    name = "next"

    @staticmethod
    def learn(data: Interactions) -> np.ndarray:
        """Films x films: ``W[i, j]``, how much having just taken film ``i`` says the
        viewer takes ``j`` next. SLIST's transition model (Choi et al., WWW 2021) in
        closed form: every event of every viewer, in time order, is a target, its
        context the viewer's :data:`LEARN_CONTEXT` films before it, each counting
        :data:`LEARN_DECAY` times the one after it; ``W = (S^T S + lambda I)^-1 S^T Y``
        with ``S`` the contexts and ``Y`` the targets, as EASE solves its own
        (Cholesky, float32). The diagonal is 0. Chosen over the session-kNN it
        replaced on the development splits (docs/viewer-quality.md)."""
        from scipy import linalg, sparse

        films = len(data.learnt)
        column = np.full(int(max(data.films.max(initial=0), data.learnt.max(initial=0))) + 1,
                         -1, dtype=np.int64)
        column[data.learnt] = np.arange(films)
        order = np.lexsort((data.times, data.users))  # by viewer, oldest first
        user, film = data.users[order], column[data.films[order]]
        user, film = user[film >= 0], film[film >= 0]
        rows, cols, values = [], [], []
        for lag in range(1, LEARN_CONTEXT + 1):  # the film `lag` places before each
            same = np.flatnonzero(user[lag:] == user[:-lag])
            rows.append(same + lag)
            cols.append(film[same])
            values.append(np.full(len(same), LEARN_DECAY ** (lag - 1), dtype=np.float32))
        n = len(film)
        context = sparse.csr_matrix((np.concatenate(values), (np.concatenate(rows),
                                                              np.concatenate(cols))),
                                    shape=(n, films))
        targets = sparse.csr_matrix((np.ones(n, dtype=np.float32), (np.arange(n), film)),
                                    shape=(n, films))
        gram = (context.T @ context).toarray().astype(np.float32)
        gram[np.diag_indices(films)] += LEARN_LAMBDA
        weights = linalg.cho_solve(linalg.cho_factor(gram, overwrite_a=True),
                                   (context.T @ targets).toarray().astype(np.float32),
                                   overwrite_b=True)
        np.fill_diagonal(weights, 0.0)
        return np.ascontiguousarray(weights, dtype=np.float32)

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
