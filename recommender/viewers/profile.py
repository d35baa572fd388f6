"""A viewer's profile: their events, summed per film, each halved every half-life.

Each film's weight is the sum of its events' weights (:func:`~recommender.viewers.recency.
event_weight`), each halved every ``event_half_life_days``, so recent taste counts more:
films of positive weight pull a ranking, negative ones push it away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from recommender.storage import Event
from recommender.viewers.recency import decayed, event_weight

SEEN_TYPES = frozenset({"view", "like", "dislike", "rating"})
"""Events that mean the viewer has seen the film (a watchlist entry doesn't)."""
REASON_OF = {"like": "liked", "rating": "rated", "view": "watched", "watchlist": "watchlisted"}


@dataclass
class Profile:
    """A viewer's history, summed per film."""

    weights: dict[str, float] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    kind: dict[str, str] = field(default_factory=dict)
    """Per film, the type of its strongest positive event (for the reason's wording)."""
    positives: list[str] = field(default_factory=list)
    """Films liked, rated well or watched most of the way, newest first, each once."""
    newest: dict[str, float] = field(default_factory=dict)
    """Per film, the time of the viewer's newest event of it."""
    events: int = 0

    @property
    def liked(self) -> dict[str, float]:
        return {f: w for f, w in self.weights.items() if w > 0}

    @property
    def disliked(self) -> dict[str, float]:
        return {f: -w for f, w in self.weights.items() if w < 0}


def build_profile(events: Sequence[Event], now: float, half_life_days: float) -> Profile:
    """The profile of ``events`` (newest first), each weighed by ``0.5 ** (age / half_life)``."""
    profile = Profile(events=len(events))
    strongest: dict[str, float] = {}
    for event in events:
        if event.type == "click":  # a film opened from a list: no taste by itself
            continue
        decay = decayed(now - (event.ts or 0.0), half_life_days)
        weight = event_weight(event.type, event.value) * decay
        film = event.film_id
        profile.newest.setdefault(film, event.ts or 0.0)
        profile.weights[film] = profile.weights.get(film, 0.0) + weight
        if event.type in SEEN_TYPES:
            profile.seen.add(film)
        if weight > strongest.get(film, 0.0):
            strongest[film] = weight
            profile.kind[film] = REASON_OF.get(event.type, "liked")
        if event_weight(event.type, event.value) >= 0.5 and film not in profile.positives:
            profile.positives.append(film)
    profile.positives = [f for f in profile.positives if profile.weights[f] > 0]
    return profile
