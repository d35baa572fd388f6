"""The ranking's weights and time constants, chosen on the service's own log.

Every service has its own pace: a log of two decades of ratings and one of a few busy
months want different half-lives for "popular now" and a viewer's own films, and a
different weight for what comes next. So ``recommender train`` (and the server's
scheduled training) **backtests** before it trains: at a few time cut-offs near the end
of the log (quantiles of its events, so a fast log's cut-offs are days apart and a slow
one's months), the model is learnt from what came before each, and each viewer's first
new film liked after it is what the ranking must find in its first :data:`K`. A small
coordinate search over :data:`GROUPS` (popular now first, then what comes next, then the
viewer's own films), each from the best before it and starting from the settings' own
values, keeps a candidate only where it finds strictly more films; the chosen values go
into the model's manifest, and every worker serving that model ranks with them
(:func:`applied`), unless the operator gave that setting explicitly.

The backtest scores a viewer as the service does: the collaborative and "what comes
next" sources' values from the same matrices, popular now from the same decayed counts,
added up by the service's own :func:`recommender.viewers.blend.blend`. It leaves out what
no choice here moves: the content's small share, new films' places, films no one had
watched at the cut-off (they are not candidates), and the model's own
``train_half_life_days``.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recommender.config import Settings
from recommender.viewers.baselines import DECAY_DAYS
from recommender.viewers.blend import blend
from recommender.viewers.collaborative import (
    DEFAULT_LAMBDA,
    MAX_FILMS,
    Interactions,
    ease_weights,
)
from recommender.viewers.recency import DAY, WINDOW_HALF_LIVES
from recommender.viewers.sources.base import RankingWeights, Scores, standardised
from recommender.viewers.sources.next import RECENT, RECENT_DECAY, NextSource
from recommender.viewers.timeline import Log

TUNABLE = ("popular_weight", "popular_half_life_days", "next_weight",
           "history_half_life_days")
"""The settings training chooses (each also an experiment's weight). Not
``popular_activity_half_life_days``: the backtest's viewers are, by its making, back
after the cut-off, so it can't see the viewers long away whom that setting guards; chosen
by the backtest it went to 0 and cost leave-last-out a third (docs/viewer-quality.md)."""
PACE = "pace"
"""A half-life candidate's unit: the days from the first backtest cut-off to the log's
end (the newest tenth of its events), so that a fast log tries hours and a slow one
years."""
GROUPS: tuple[dict[str, tuple[float, ...]], ...] = (
    {"popular_half_life_days": (1 / 16, 1 / 4, 1.0, 4.0),
     "popular_weight": (0.5, 1.0, 2.0, 4.0)},
    {"next_weight": (0.0, 0.25, 0.5, 1.0)},
    {"history_half_life_days": (0.0, 1 / 4, 1.0, 4.0)},
)
"""Candidates, searched a group at a time; the half-lives in units of :data:`PACE`, 0
meaning "never halved"."""
CUTS = (0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5)
"""Backtest cut-offs, as the share of the log's events before each, taken in this order
until :data:`ENOUGH` viewer-cuts are found: a busy log needs one, a small one all."""
ENOUGH = 1000
MAX_VIEWERS = 1000
"""Viewers asked at one cut-off at most (drawn, seeded): the backtest's time is bounded."""
BACKTEST_FILMS = 3000
"""Films the backtest's models learn at most (the most watched): its inverse is the
backtest's cost, and a film past them is seldom anyone's first ten."""
BACKTEST_EVENTS = 2_000_000
"""Events before a cut-off the backtest's "what comes next" learns its transitions from
at most (the newest): its cost grows with them, its choices hardly."""
MIN_VIEWERS = 50
"""Fewer viewer-cuts than this choose nothing: the settings' own values are kept."""
K = 10
GUARD = 1.645
"""How many standard errors a candidate must win by (one-sided 95%; 1 let the joins'
100-odd viewer-cuts move the values by noise: docs/viewer-quality.md)."""
POSITIVE = 0.5
SEED = 0


@dataclass
class Tuned:
    """What the backtest chose, and what it measured; recorded in the model's manifest."""

    values: dict[str, float] = field(default_factory=dict)
    """The chosen values (empty: nothing chosen, see ``why_not``)."""
    why_not: str | None = None
    viewers: int = 0
    cuts: list[str] = field(default_factory=list)
    hit_rate: float = 0.0
    settings_hit_rate: float = 0.0
    """The settings' own values' hit rate on the same viewer-cuts."""
    decayed_popularity_hit_rate: float = 0.0
    """The films most watched lately (30-day half-life), on the same viewer-cuts."""
    candidates: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def applied(settings: Settings, tuned: Mapping[str, float]) -> Settings:
    """``settings`` with the tuned values in, except where the operator (or an
    experiment's variant) gave the setting explicitly."""
    chosen: dict[str, Any] = {k: float(v) for k, v in tuned.items()
                              if k in TUNABLE and k not in settings.explicit
                              and getattr(settings, k) != v}
    return dataclasses.replace(settings, **chosen) if chosen else settings


def provenance(settings: Settings, tuned: Mapping[str, float]) -> dict[str, Any]:
    """Each tunable value the ranking serves with, and where it comes from: ``explicit``
    (a variable or flag), ``tuned`` (the serving model's training chose it) or
    ``default``: what ``/admin/status`` shows."""
    served = applied(settings, tuned)
    return {name: {"value": getattr(served, name),
                   "from": "explicit" if name in settings.explicit else
                   "tuned" if name in tuned else "default"} for name in TUNABLE}


@dataclass
class _Cut:
    """One backtest cut-off: its viewers' matrices, ready for every candidate."""

    targets: np.ndarray
    seen: np.ndarray
    idle: np.ndarray
    """Seconds from each viewer's newest event to the cut-off."""
    collaborative: dict[float, np.ndarray]
    following: np.ndarray
    popular: dict[float, np.ndarray]
    decayed_popular: np.ndarray


def tune(log: Log, settings: Settings, lam: float = DEFAULT_LAMBDA,
         max_films: int = MAX_FILMS) -> Tuned:
    """Choose :data:`TUNABLE` by backtesting on ``log`` (see the module's words)."""
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    pace = max(float(log.ts[-1] - log.ts[int(len(log) * CUTS[0])]) / DAY, 1 / 24) \
        if len(log) else 1.0
    # an explicit setting is held at its value; the others are tried around it
    groups = [{name: (float(getattr(settings, name)),) if name in settings.explicit else
               tuple(sorted({round(v * pace, 3) if name.endswith("_days") else v
                             for v in values} | {float(getattr(settings, name))}))
               for name, values in group.items()} for group in GROUPS]
    cuts: list[_Cut] = []
    labels: list[str] = []
    for share in CUTS:
        if sum(len(c.targets) for c in cuts) >= ENOUGH or not len(log):
            break
        cut = _prepare(log, float(log.ts[int(len(log) * share)]), settings, lam,
                       max_films, rng, groups)
        if cut is not None:
            cuts.append(cut)
            labels.append(f"{share:.2f}")
    viewers = sum(len(c.targets) for c in cuts)
    base = {k: float(getattr(settings, k)) for k in TUNABLE}
    if viewers < MIN_VIEWERS:
        return Tuned(why_not=f"{viewers} viewer-cuts to backtest on (at least "
                     f"{MIN_VIEWERS} needed): the settings' values are kept",
                     viewers=viewers, cuts=labels,
                     seconds=round(time.perf_counter() - started, 2))
    best, best_hits = base, _hits(cuts, base, settings)
    own, tried = best_hits, 1
    for group in groups:
        for combo in itertools.product(*group.values()):
            candidate = {**best, **dict(zip(group, combo, strict=True))}
            if candidate == best:
                continue
            tried += 1
            hits = _hits(cuts, candidate, settings)
            if _better(hits, best_hits):
                best, best_hits = candidate, hits
    popular = np.concatenate([_found(c, np.broadcast_to(c.decayed_popular, c.seen.shape))
                              for c in cuts])
    return Tuned(values={k: v for k, v in best.items() if k not in settings.explicit},
                 viewers=viewers, cuts=labels, hit_rate=round(float(best_hits.mean()), 4),
                 settings_hit_rate=round(float(own.mean()), 4),
                 decayed_popularity_hit_rate=round(float(popular.mean()), 4),
                 candidates=tried, seconds=round(time.perf_counter() - started, 2))


def _better(hits: np.ndarray, than: np.ndarray) -> bool:
    """More films found, by more than :data:`GUARD` standard errors of the paired
    difference (one-sided 95%): on a small log a candidate must win clearly to move off
    the values already there."""
    difference = hits.astype(np.float64) - than
    error = float(difference.std(ddof=1)) / np.sqrt(len(difference)) if len(difference) > 1 \
        else 0.0
    return float(difference.mean()) > GUARD * error and difference.sum() > 0


def _hits(cuts: list[_Cut], values: dict[str, float], settings: Settings) -> np.ndarray:
    """Per viewer-cut, 1 where the viewer's film is in the first :data:`K`."""
    weights = RankingWeights(collaborative=1.0, content=0.0, cold_content=0.0,
                             popular=values["popular_weight"], new_slots=0,
                             next=values["next_weight"])
    found = []
    activity = settings.popular_activity_half_life_days
    for cut in cuts:
        scale = _decayed(cut.idle, activity)
        scores = {"collaborative": Scores(cut.collaborative[values["history_half_life_days"]],
                                          _no_reason),
                  "popular": Scores(scale[:, None] * cut.popular[
                      values["popular_half_life_days"]][None, :], _no_reason),
                  "next": Scores(cut.following, _no_reason)}
        found.append(_found(cut, blend(scores, weights)))
    return np.concatenate(found)


def _no_reason(row: int) -> list[dict[str, Any]]:
    return []


def _found(cut: _Cut, scores: np.ndarray) -> np.ndarray:
    """Per viewer, 1 where their film is in the first :data:`K` of ``scores``."""
    ranked = np.where(cut.seen, -np.inf, scores)
    k = min(K, ranked.shape[1] - 1)
    top = np.argpartition(-ranked, k, axis=1)[:, :k]
    return (top == cut.targets[:, None]).any(axis=1).astype(np.int8)


def _decayed(age_seconds: np.ndarray, half_life_days: float) -> np.ndarray:
    if not half_life_days:
        return np.ones_like(age_seconds)
    return 0.5 ** (np.maximum(age_seconds, 0.0) / (half_life_days * DAY))


def _prepare(log: Log, cut: float, settings: Settings, lam: float, max_films: int,
             rng: np.random.Generator, groups: list[dict[str, tuple[float, ...]]]
             ) -> _Cut | None:
    """The model at ``cut`` and its viewers' scores per candidate time constant; None
    where no viewer has a film to find after it."""
    from scipy import sparse

    end = int(np.searchsorted(log.ts, cut, side="left"))
    n_users, n_films = int(log.user.max()) + 1, len(log.films)
    had = sparse.csr_matrix((np.ones(end, dtype=np.float32), (log.user[:end], log.film[:end])),
                            shape=(n_users, n_films))
    had.data[:] = 1.0
    # each viewer's first film liked after the cut-off that they had no event of before it
    after = np.arange(end, len(log))
    after = after[(log.weight[after] >= POSITIVE) &
                  (np.diff(had.indptr)[log.user[after]] > 0)]
    pairs = np.unique(log.user[:end] * n_films + log.film[:end])
    after = after[~np.isin(log.user[after] * n_films + log.film[after], pairs)]
    users, first = np.unique(log.user[after], return_index=True)
    if len(users) > MAX_VIEWERS:
        pick = np.sort(rng.choice(len(users), MAX_VIEWERS, replace=False))
        users, first = users[pick], first[pick]
    if not len(users):
        return None
    counts = np.asarray(had.sum(axis=0)).ravel()
    learnt = np.argsort(-counts, kind="stable")[:min(max_films, BACKTEST_FILMS,
                                                     int((counts > 0).sum()))]
    matrix = had[:, learnt]
    matrix = matrix[np.diff(matrix.indptr) > 0]
    model = ease_weights(matrix, lam)
    begin = max(end - BACKTEST_EVENTS, 0)  # the transitions: the newest events only
    following = NextSource.learn(Interactions(matrix, learnt, log.user[begin:end],
                                              log.film[begin:end], log.ts[begin:end]))
    profiles = _Profiles(log, end, users, cut, settings)
    tried = {name: values for group in groups for name, values in group.items()}
    collaborative = {h: profiles.collaborative(model, learnt, h, n_films)
                     for h in tried["history_half_life_days"]}
    popular = {h: _popular(log, end, cut, h, settings.trending_max_events)
               for h in tried["popular_half_life_days"]}
    baseline = np.zeros(n_films)
    np.add.at(baseline, log.film[:end], _decayed(cut - log.ts[:end], DECAY_DAYS))
    return _Cut(log.film[after[first]], profiles.seen, profiles.idle, collaborative,
                profiles.following(following, learnt, n_films), popular, baseline)


def _popular(log: Log, end: int, cut: float, half_life: float, newest: int) -> np.ndarray:
    """Popular now at ``cut`` as :class:`~recommender.viewers.recency.DecayedCounts` counts
    it (the newest events of its window, ``log1p``), in standard units."""
    start = max(int(np.searchsorted(log.ts, cut - WINDOW_HALF_LIVES * half_life * DAY)),
                end - newest, 0)
    counts = np.zeros(len(log.films))
    np.add.at(counts, log.film[start:end],
              log.trend[start:end] * _decayed(cut - log.ts[start:end], half_life))
    return standardised(np.log1p(counts)).astype(np.float32)


class _Profiles:
    """The backtest viewers' profiles at a cut-off, as
    :func:`~recommender.viewers.profile.build_profile` makes them."""

    def __init__(self, log: Log, end: int, users: np.ndarray, cut: float,
                 settings: Settings) -> None:
        self.films = len(log.films)
        mine = np.flatnonzero(np.isin(log.user[:end], users))
        mine = mine[np.lexsort((-log.ts[mine], log.user[mine]))]  # by viewer, newest first
        place = {int(u): i for i, u in enumerate(users)}
        self.seen = np.zeros((len(users), self.films), dtype=bool)
        self.idle = np.zeros(len(users))
        self.weights: list[dict[int, float]] = [{} for _ in users]
        self.newest: list[dict[int, float]] = [{} for _ in users]
        self.positives: list[list[int]] = [[] for _ in users]
        starts = np.flatnonzero(np.r_[True, np.diff(log.user[mine]) != 0])
        for begin, stop in zip(starts, np.r_[starts[1:], len(mine)], strict=True):
            rows = mine[begin:stop][:settings.max_user_events]
            i = place[int(log.user[rows[0]])]
            self.idle[i] = cut - float(log.ts[rows[0]])
            decay = _decayed(cut - log.ts[rows], settings.event_half_life_days)
            weights, newest = self.weights[i], self.newest[i]
            for film, weight, ts, seen in zip(log.film[rows].tolist(),
                                              (log.weight[rows] * decay).tolist(),
                                              log.ts[rows].tolist(), log.seen[rows].tolist(),
                                              strict=True):
                newest.setdefault(film, ts)
                weights[film] = weights.get(film, 0.0) + weight
                self.seen[i, film] |= seen
            liked = [int(f) for f, w in zip(log.film[rows], log.weight[rows], strict=True)
                     if w >= POSITIVE]
            self.positives[i] = [f for f in dict.fromkeys(liked) if weights[f] > 0]

    def collaborative(self, model: np.ndarray, learnt: np.ndarray, half_life: float,
                      films: int) -> np.ndarray:
        """Each viewer's collaborative source values (unlearnt films: never ranked)."""
        row_of = {int(f): r for r, f in enumerate(learnt)}
        values = np.full((len(self.weights), films), -np.inf, dtype=np.float32)
        for i, (weights, newest) in enumerate(zip(self.weights, self.newest, strict=True)):
            theirs = [f for f in weights if f in row_of]
            if not theirs:
                continue
            latest = max(newest.values())
            recency = _decayed(np.array([latest - newest[f] for f in theirs]), half_life)
            values[i, learnt] = standardised(recency.astype(np.float32) @
                                             model[[row_of[f] for f in theirs]])
        return values

    def following(self, matrix: np.ndarray, learnt: np.ndarray, films: int) -> np.ndarray:
        """Each viewer's "what comes next" values from their newest liked films."""
        row_of = {int(f): r for r, f in enumerate(learnt)}
        values = np.zeros((len(self.positives), films), dtype=np.float32)
        for i, positives in enumerate(self.positives):
            recent = [row_of[f] for f in positives if f in row_of][:RECENT]
            if recent:
                decay = RECENT_DECAY ** np.arange(len(recent), dtype=np.float32)
                values[i, learnt] = standardised(decay @ matrix[recent])
        return values
