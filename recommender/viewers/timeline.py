"""The event store's log as arrays, oldest first: what training reads once, learns the
model from (:mod:`recommender.viewers.training`) and backtests its choices on
(:mod:`recommender.viewers.tuning`). Each (type, value) is weighed once, by the service's
own functions, so the backtest counts an event as the service does."""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from recommender.viewers.profile import SEEN_TYPES
from recommender.viewers.recency import event_weight, trending_weight


@dataclass
class Log:
    """Every event (clicks left out) as arrays, oldest first: what training learns from
    and the backtest replays."""

    user: np.ndarray
    """The viewer's code (their order of first appearance)."""
    film: np.ndarray
    """The film's place in ``films``."""
    ts: np.ndarray
    weight: np.ndarray
    """:func:`~recommender.viewers.recency.event_weight` of each event."""
    trend: np.ndarray
    """What each adds to a film's popular-now count."""
    seen: np.ndarray
    films: list[str]
    read: int = 0
    """Events read, those of films gone from the catalog too."""
    span: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def read_from(cls, events: Iterable[tuple[str, str, str, float | None, float]],
                  films: list[str]) -> Log:
        """(user, film, type, value, ts) events; those of films not in ``films`` are
        counted in ``read`` and left out."""
        column = {f: j for j, f in enumerate(films)}
        users: dict[str, int] = {}
        kinds: dict[tuple[str, float | None], int] = {}
        u, f, k = array("q"), array("q"), array("q")
        t = array("d")
        read, first, last = 0, float("inf"), float("-inf")
        for user, film, type_, value, ts in events:
            read += 1
            first, last = min(first, ts), max(last, ts)
            j = column.get(film)
            if j is None or type_ == "click":
                continue
            u.append(users.setdefault(user, len(users)))
            f.append(j)
            t.append(ts)
            k.append(kinds.setdefault((type_, value), len(kinds)))
        # each (type, value) weighed once, by the service's own functions
        table = list(kinds)
        weight = np.array([event_weight(*kv) for kv in table] or [0.0], dtype=np.float32)
        trend = np.array([trending_weight(*kv) for kv in table] or [0.0], dtype=np.float32)
        seen = np.array([kv[0] in SEEN_TYPES for kv in table] or [False])
        kind = np.frombuffer(k, dtype=np.int64)
        times = np.frombuffer(t, dtype=np.float64)
        order = np.argsort(times, kind="stable")
        kind = kind[order]
        return cls(np.frombuffer(u, dtype=np.int64)[order],
                   np.frombuffer(f, dtype=np.int64)[order], times[order], weight[kind],
                   trend[kind], seen[kind], list(films), read,
                   (first, last) if read else (0.0, 0.0))

    def __len__(self) -> int:
        return len(self.ts)
