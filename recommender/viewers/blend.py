"""A viewer's ranking from its sources (:mod:`recommender.viewers.sources`): the blend,
a pure function of their scores and :class:`~recommender.viewers.sources.RankingWeights`,
then the page, with places kept for films new on the service and each film's reason.

Per film the collaborative model knows: ``collaborative + content * z(content) + popular *
z(popular now)``, each source already in standard units, so that none wins by its scale;
a film the model never saw (its score imputed from its closest known films) adds the
content's likeness again, ``cold_content`` times, where content counts at all. The weights
were chosen on development splits of the MovieLens x IMDb and x Netflix logs (each
viewer's second-to-last new film held out, never the last, which the figures are measured
on), as the best sum of the warm viewers' and the new films' hit rates on both: a larger
content weight for new films found more of them on IMDb and cost the Netflix join's warm
viewers a tenth of their hits; imputing from neighbours instead of adding content alone
kept the warm viewers at EASE's level (docs/viewer-quality.md). Popular now and the new
films' places were chosen on development cut-offs of the same logs (scripts/time_grid.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from recommender.catalog.titles import film_summary
from recommender.ranking import top_k
from recommender.search.engine import Engine
from recommender.search.query import QueryOptions, ResultPage, ScoredFilm
from recommender.viewers.collaborative import CollaborativeModel
from recommender.viewers.sources import RankingWeights, Scores

REASON_ORDER = ("collaborative", "content", "popular")
"""Whose reason a film of the blend carries: the first of these that scored it."""
OWN_TERMS = frozenset({*REASON_ORDER, "new"})
"""The sources the blend weighs in its own way; every other source adds its weight (the
field of :class:`~recommender.viewers.sources.RankingWeights` of its name) times its
values, and a film that owes it more than the model says why by its reason."""


def blend(scores: Mapping[str, Scores], weights: RankingWeights) -> np.ndarray:
    """Every film's blended score: the sources' values, weighted and added (pure)."""
    base = scores["collaborative"]
    total = weights.collaborative * base.values
    content = scores.get("content")
    if content is not None and weights.content:
        total = total + weights.content * content.values
        if base.imputed is not None and weights.cold_content:
            total[base.imputed] += weights.cold_content * content.values[base.imputed]
    popular = scores.get("popular")
    if popular is not None and weights.popular:
        total = total + (weights.popular * popular.scale) * popular.values
    for name, other in scores.items():
        weight = getattr(weights, name, 0.0) if name not in OWN_TERMS else 0.0
        if weight:
            total = total + weight * other.values
    return total


def rank(engine: Engine, scores: Mapping[str, Scores], weights: RankingWeights,
         options: QueryOptions, exclude: Sequence[str]) -> list[ScoredFilm]:
    """The viewer's page (``options.offset`` .. ``+ k``) of the blend, through the query's
    filters, with ``new_slots`` places kept for the new films that fit best."""
    index = engine.index
    total = blend(scores, weights)
    base, new = scores["collaborative"], scores.get("new")
    others = [(getattr(weights, name, 0.0), other) for name, other in scores.items()
              if name not in OWN_TERMS]
    fresh = None
    if new is not None and weights.new_slots:
        fresh = new.values > 0
        if base.imputed is not None:
            fresh &= base.imputed
    excluded = {index.row_of[f] for f in exclude if f in index.row_of}
    allowed = engine.filters.allowed(options, excluded)
    wanted = options.offset + options.k
    ranked = top_k(total, wanted, allowed, options.min_score)
    if fresh is not None and fresh.any():
        ranked = _with_new(total, ranked, fresh, allowed, wanted, weights.new_slots,
                           options.min_score)
    content = scores.get("content")
    semantic = content.values if content is not None and weights.content else \
        np.zeros(len(index), dtype=np.float32)
    reasons = [scores[name] for name in REASON_ORDER if name in scores]
    hits = []
    for row, value in ranked[options.offset:]:
        hit = ScoredFilm(index.films[row], value, semantic=float(semantic[row]))
        hit.reasons = reasons[0].reason(row)
        owed = weights.collaborative * base.values[row]
        for weight, other in others:
            if weight * other.values[row] > owed:  # it owes more to this source
                hit.reasons, owed = other.reason(row), weight * other.values[row]
        if fresh is not None and fresh[row] and new is not None:
            hit.reasons[0] = new.reason(row)[0]
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
