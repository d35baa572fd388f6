"""One ranking for a viewer from two sources: what every viewer's events teach (the
collaborative model, :mod:`recommender.viewers.collaborative`) and what the films are about (their
vectors, as the content recommendations use them).

Per film the model knows: ``z(collaborative) + CONTENT_WEIGHT * z(content)`` (plus what
is popular now, and places kept for films new on the service: :class:`TimeSources`, from
:mod:`recommender.viewers.recency`), where ``z``
standardises a score over the films (mean 0, deviation 1), so neither source wins by its
scale. A film the model has never seen an event of (new to the catalog, or never watched)
has no collaborative score of its own: it takes the weighted mean of its NEIGHBOURS
closest known films' (by content: a film like the ones this viewer's peers watch ranks
like them), plus ``COLD_CONTENT_WEIGHT * z(content)``. The weights were chosen on
development splits of the MovieLens x IMDb and x Netflix logs (each viewer's
second-to-last new film held out, never the last, which the figures are measured on),
as the best sum of the warm viewers' and the new films' hit rates on both: a larger
content weight for new films found more of them on IMDb and cost the Netflix join's warm
viewers a tenth of their hits; imputing from neighbours instead of adding content alone
kept the warm viewers at EASE's level (docs/viewer-quality.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from recommender.catalog.titles import film_summary
from recommender.ranking import top_k
from recommender.search.engine import Engine
from recommender.search.query import QueryOptions, ResultPage, ScoredFilm
from recommender.search.vectors import weighted_query
from recommender.viewers.collaborative import CollaborativeModel
from recommender.viewers.recency import TimeSources

CONTENT_WEIGHT = 0.1
NEIGHBOURS = 10
COLD_SHRINK = 1.0
COLD_CONTENT_WEIGHT = 1.0


def _z(values: np.ndarray) -> np.ndarray:
    deviation = float(values.std())
    return (values - float(values.mean())) / deviation if deviation > 0 else values * 0.0


class Alignment:
    """Where each index row is in a model (-1: the model never saw the film), made once
    per (index version, model version) pair and reused by every request."""

    def __init__(self, engine: Engine, model: CollaborativeModel) -> None:
        self.key = (engine.index.generation, model.version)
        self.model_row = np.array([model.row_of.get(f.id, -1) for f in engine.index.films],
                                  dtype=np.int64)
        self.known = self.model_row >= 0
        self.vectors = engine.index.faiss_index.reconstruct_n(0, len(engine.index))
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


def blended(engine: Engine, model: CollaborativeModel, alignment: Alignment,
            liked: dict[str, float], disliked: dict[str, float], interacted: Sequence[str],
            options: QueryOptions, exclude: Sequence[str],
            now: TimeSources | None = None,
            content_weight: float = CONTENT_WEIGHT) -> list[ScoredFilm] | None:
    """The viewer's page (``options.offset`` .. ``+ k``), or None where the model knows none
    of the films they interacted with (the content ranking then answers alone)."""
    now = now or TimeSources()
    theirs, block = model.rows_of(interacted)
    known = alignment.known
    if not theirs or not known.any():  # (a model of another catalog knows none of these)
        return None
    if now.recency:
        cf = np.array([now.recency.get(f, 1.0) for f in theirs], dtype=np.float32) @ block
    else:
        cf = block.sum(axis=0)
    index = engine.index
    scores = np.full(len(index), -np.inf, dtype=np.float32)
    scores[known] = _z(cf[alignment.model_row[known]])
    if len(alignment.cold) and alignment.neighbours.shape[1]:
        # a film nobody has watched yet scores as its closest watched films do, shrunk:
        # in the same units as the others, so it rises as far as its likeness earns
        scores[alignment.cold] = COLD_SHRINK * np.sum(
            scores[alignment.neighbours] * alignment.neighbour_weights, axis=1)
    liked_rows = [index.row_of[f] for f in liked if f in index.row_of]
    content = np.zeros(len(index), dtype=np.float32)
    if liked_rows:
        disliked_rows = [index.row_of[f] for f in disliked if f in index.row_of]
        query = weighted_query(index, liked_rows, np.array([liked[index.films[r].id]
                                                            for r in liked_rows]),
                               disliked_rows, np.array([disliked[index.films[r].id]
                                                        for r in disliked_rows]))
        content = _z(alignment.vectors @ query.vector)
        scores += content_weight * content
        if content_weight:
            scores[alignment.cold] += COLD_CONTENT_WEIGHT * content[alignment.cold]
    if now.popular is not None and now.popular_weight:
        scores += now.popular_weight * _z(now.popular)
    fresh = now.new & ~known if now.new is not None and now.new_slots else None
    excluded = {index.row_of[f] for f in exclude if f in index.row_of}
    allowed = engine.filters.allowed(options, excluded)
    wanted = options.offset + options.k
    ranked = top_k(scores, wanted, allowed, options.min_score)
    if fresh is not None and fresh.any():
        ranked = _with_new(scores, ranked, fresh, allowed, wanted, now.new_slots,
                           options.min_score)
    hits = []
    for row, value in ranked[options.offset:]:
        hit = ScoredFilm(index.films[row], value, semantic=float(content[row]))
        hit.reasons = _reasons(engine, alignment, row, theirs, block, liked_rows)
        if fresh is not None and fresh[row]:
            hit.reasons[0] = {"because": "new_on_the_service"}
        hits.append(hit)
    return hits


def _with_new(scores: np.ndarray, ranked: list[tuple[int, float]], fresh: np.ndarray,
              allowed: np.ndarray | None, wanted: int, slots: int,
              min_score: float | None) -> list[tuple[int, float]]:
    """``ranked`` with up to ``slots`` of its places kept for the films new on the service
    that fit the viewer best (by the same score): what they would not earn yet with no
    events, bounded, so a catalog adding many films at once doesn't flood every list."""
    have = sum(1 for row, _ in ranked if fresh[row])
    if have >= slots:
        return ranked
    pool = fresh if allowed is None else fresh & allowed
    taken = {row for row, _ in ranked}
    extra = [(row, value) for row, value in top_k(scores, slots, pool, min_score)
             if row not in taken][:slots - have]
    if not extra:
        return ranked
    kept = [item for item in ranked if fresh[item[0]]]
    others = [item for item in ranked if not fresh[item[0]]]
    room = max(wanted - len(kept) - len(extra), 0)
    return sorted(others[:room] + kept + extra, key=lambda item: (-item[1], item[0]))


def _reasons(engine: Engine, alignment: Alignment, row: int, theirs: list[str],
             block: np.ndarray, liked_rows: list[int]) -> list[dict[str, Any]]:
    """Why: the viewer's film whose viewers most also watched this one, or, for a film no
    one has watched yet, "new" and the liked film it is closest to."""
    index = engine.index
    if alignment.known[row]:
        weights = block[:, int(alignment.model_row[row])]
        best = int(np.argmax(weights))
        if weights[best] > 0 and theirs[best] in index.row_of:
            return [{"because": "viewers_also_liked",
                     "film": film_summary(engine.film(theirs[best]))}]
        return [{"because": "viewers_like_you"}]
    reasons: list[dict[str, Any]] = [{"because": "new"}]
    if liked_rows:
        similarity = alignment.vectors[liked_rows] @ alignment.vectors[row]
        closest = liked_rows[int(np.argmax(similarity))]
        reasons.append({"because": "liked", "film": film_summary(index.films[closest]),
                        "similarity": round(float(similarity.max()), 4)})
    return reasons


def also_liked(engine: Engine, model: CollaborativeModel | None, film_id: str,
               options: QueryOptions) -> ResultPage:
    """"Viewers who watched this also watched": the model's strongest films for one film,
    through the query's filters, best first; an empty page while no model knows it."""
    options = options.validate(engine.settings.max_k)  # a bad page is a 400 first
    film = engine.film(film_id)  # 404 for an unknown id
    index = engine.index
    echo = {"id": film.id, "basis": "no collaborative model yet" if model is None else
            f"model {model.version}", **options.echo()}
    echo.pop("mode", None)  # no ranking mode: the model's own scores
    if model is None or film.id not in model.row_of:
        return ResultPage(echo, [], False)
    weights = np.asarray(model.weights[model.row_of[film.id]], dtype=np.float32)
    scores = np.full(len(index), -np.inf, dtype=np.float32)
    rows = np.array([index.row_of.get(f, -1) for f in model.film_ids], dtype=np.int64)
    inside = rows >= 0
    scores[rows[inside]] = weights[inside]
    excluded = {index.row_of[film.id]} | \
        {index.row_of[f] for f in options.exclude if f in index.row_of}
    allowed = engine.filters.allowed(options, excluded)
    wanted = options.offset + options.k
    ranked = top_k(scores, wanted + 1, allowed, max(options.min_score or 0.0, 0.0))
    because = [{"because": "viewers_also_liked", "film": film_summary(film)}]
    hits = []
    for row, score in ranked[options.offset:wanted]:
        hit = ScoredFilm(index.films[row], score)
        hit.reasons = because
        hits.append(hit)
    return ResultPage(echo, hits, len(ranked) > wanted)
