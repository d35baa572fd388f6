"""What time adds to the rankings: what is popular now, and what is new on the service.

- **Popular now**: each film's events since a window's start, each weighed as trending
  weighs it and halved every half-life before the clock. ``GET /trending`` is one such
  count (a short half-life: this week); a warm viewer's ranking adds another
  (``popular_half_life_days``, a longer one: chosen on development cut-offs of the
  MovieLens logs, docs/viewer-quality.md). Counted from the event store, so it is as
  fresh as the last event, not as the last training; each count is reused a few seconds
  per process (:class:`DecayedCounts`), so a busy service doesn't count the same events
  for every answer.
- **New on the service**: a film that arrived within ``new_window_days`` (its
  ``available_from``, or when the live catalog added it) and that the collaborative model
  has not learnt yet. No viewer has events of it, so without help it would only be shown
  as far as its likeness to watched films carries it; a viewer's page keeps
  ``new_slots`` of its places for the new films that fit them best, until events teach
  the model about them. Places, not a bonus: a bonus big enough to show a new film lifts
  every new film at once, and a catalog that adds a hundred films in a week would fill
  every page with them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np

from recommender.index.film_index import FilmIndex
from recommender.storage import EventStore

DAY = 86_400.0
WINDOW_HALF_LIVES = 6.0
"""A decayed count reads events back this many half-lives (older ones add under 2%)."""


def decayed(age_seconds: float, half_life_days: float) -> float:
    """What an event ``age_seconds`` old counts, halved every ``half_life_days``: the one
    time decay of the profiles, trending, popular-now and the decayed-popularity baseline."""
    return 0.5 ** (max(age_seconds, 0.0) / (max(half_life_days, 1e-6) * DAY))


def event_weight(type_: str, value: float | None) -> float:
    """How much one event says the viewer likes the film, from -1 to 1.

    like 1, dislike -1; a rating of 0..5 maps onto -1..1 (2.5 is neutral); a view counts
    by the fraction watched, a view abandoned early (under a fifth) mildly against; a
    watchlist entry 0.3 (interest, not yet taste).
    """
    if type_ == "like":
        return 1.0
    if type_ == "dislike":
        return -1.0
    if type_ == "rating":
        return (float(value if value is not None else 2.5) - 2.5) / 2.5
    if type_ == "view":
        fraction = 1.0 if value is None else float(value)
        return fraction if fraction >= 0.2 else fraction - 0.2
    if type_ == "watchlist":
        return 0.3
    return 0.0


def trending_weight(type_: str, value: float | None) -> float:
    """What one event adds to a film's popularity count (dislikes add nothing)."""
    return max(event_weight(type_, value), 0.0) if type_ != "watchlist" else 0.5


class DecayedCounts:
    """Films' decayed event counts from one store, each (window, half-life) cached for
    ``cache_seconds`` per process; :meth:`forget` after this process stores events."""

    def __init__(self, store: EventStore, clock: Callable[[], float], max_events: int,
                 cache_seconds: float) -> None:
        self.store = store
        self.clock = clock
        self.max_events = max_events
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[float, float], tuple[float, list[tuple[str, float]]]] = {}
        self._by_row: dict[tuple[float, str], tuple[float, np.ndarray]] = {}
        self._lock = threading.Lock()

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()
            self._by_row.clear()

    def counts(self, window_days: float, half_life_days: float) -> list[tuple[str, float]]:
        """(film, decayed count), highest first, over the ``window_days`` before now."""
        now = self.clock()
        key = (window_days, half_life_days)
        with self._lock:
            cached = self._cache.get(key)
            if cached and 0 <= now - cached[0] < self.cache_seconds:
                return cached[1]
        scores: dict[str, float] = {}
        for film_id, type_, value, ts in self.store.recent(now - window_days * DAY,
                                                            self.max_events):
            weight = trending_weight(type_, value)
            if weight > 0:
                scores[film_id] = scores.get(film_id, 0.0) + \
                    weight * decayed(now - ts, half_life_days)
        counts = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        with self._lock:
            self._cache[key] = (now, counts)
        return counts

    def by_row(self, index: FilmIndex, half_life_days: float) -> np.ndarray:
        """Popular now per row of ``index``: ``log1p`` of the decayed count (a film ten
        times as watched is not ten times as likely), 0 for films without events."""
        now = self.clock()
        key = (half_life_days, index.generation)
        with self._lock:
            cached = self._by_row.get(key)
            if cached and 0 <= now - cached[0] < self.cache_seconds:
                return cached[1]
        values = np.zeros(len(index), dtype=np.float32)
        for film_id, count in self.counts(WINDOW_HALF_LIVES * half_life_days,
                                          half_life_days):
            row = index.row_of.get(film_id)
            if row is not None:
                values[row] = math.log1p(count)
        with self._lock:
            if len(self._by_row) > 8:  # an index generation seldom comes back
                self._by_row.clear()
            self._by_row[key] = (now, values)
        return values


def arrived(index: FilmIndex) -> dict[str, float]:
    """When each film of ``index`` arrived, where it is known: its ``available_from``, or
    the time the live catalog added it (the later of the two)."""
    added = (index.overlay or {}).get("arrived") or {}
    out: dict[str, float] = {}
    for film in index.films:
        start = film.window()[0]
        at = max(start if math.isfinite(start) else -math.inf, added.get(film.id, -math.inf))
        if math.isfinite(at):
            out[film.id] = at
    return out


def new_mask(index: FilmIndex, arrivals: dict[str, float], now: float,
             window_days: float) -> np.ndarray:
    """True for the films of ``index`` that arrived within ``window_days`` before ``now``."""
    mask = np.zeros(len(index), dtype=bool)
    since = now - window_days * DAY
    for film_id, at in arrivals.items():
        row = index.row_of.get(film_id)
        if row is not None and since <= at <= now:
            mask[row] = True
    return mask
