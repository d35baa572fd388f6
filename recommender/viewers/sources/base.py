"""The contract every source of a viewer's ranking keeps, and the weights that blend them.

A :class:`Source` is made once per service (it may hold a model, a cache) and asked per
request: :meth:`Source.scores` takes a :class:`Context` (the engine as it is now, the
viewer's profile, the clock) and answers :class:`Scores`: one value per row of the index,
in standard units (mean 0, deviation 1 over the films it scores, so that no source wins
by its scale), or None where it has nothing for this viewer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from recommender.config import Settings
from recommender.index.film_index import FilmIndex
from recommender.search.engine import Engine
from recommender.viewers.collaborative import CollaborativeModel
from recommender.viewers.recency import DecayedCounts

if TYPE_CHECKING:
    from recommender.viewers.profile import Profile


@dataclass(frozen=True)
class Context:
    """What a source is asked for: one viewer, now."""

    engine: Engine
    profile: Profile
    now: float
    settings: Settings
    """The service's settings, or an experiment's variant of them (its time constants)."""
    liked: dict[str, float]
    """The viewer's liked films that are in the index, by weight."""


@dataclass(frozen=True)
class Needs:
    """What the service hands each source when it makes it: state shared by requests."""

    model: Callable[[], CollaborativeModel | None]
    """The collaborative model serving now (None: none trained yet), read per request."""
    counts: DecayedCounts
    """Films' decayed event counts, cached a few seconds per process."""
    arrivals: Callable[[FilmIndex], dict[str, float]]
    """When each film of an index arrived (its window, the live catalog's additions)."""
    vectors: Callable[[FilmIndex], np.ndarray]
    """Every film's vector of an index, read out once per index version and shared by the
    sources (one copy, however many read it)."""


Reason = Callable[[int], list[dict[str, Any]]]


@dataclass
class Scores:
    """A source's answer for one viewer: ``values[row]`` per index row."""

    values: np.ndarray
    reason: Reason
    """Why a film (by row) is there, as this source sees it."""
    scale: float = 1.0
    """What the source's weight is multiplied by for this viewer (popular now counts
    less for a viewer long away)."""
    imputed: np.ndarray | None = None
    """True where the value is not the source's own (a film it never saw, scored as its
    closest known films are): the blend adds the content's likeness there."""


def _bounds(low: float, high: float | None = None, setting: str | None = None
            ) -> dict[str, Any]:
    """A weight's metadata: its bounds, and the setting (``Settings`` field) it is read
    from, where the operator sets it."""
    return {"low": low, "high": high, "setting": setting}


@dataclass(frozen=True)
class RankingWeights:
    """How much each source counts in a viewer's ranking; the bounds of each weight are in
    its field's metadata, and :meth:`check` holds a value to them."""

    collaborative: float = field(default=1.0, metadata=_bounds(0.0, 10.0))
    content: float = field(default=0.1, metadata=_bounds(0.0, 10.0))
    """The films' likeness to the viewer's (chosen on development splits, blend.py)."""
    cold_content: float = field(default=1.0, metadata=_bounds(0.0, 10.0))
    """Likeness added again for films the model never saw (only where content counts)."""
    popular: float = field(default=2.0, metadata=_bounds(0.0, 100.0, "popular_weight"))
    """What is popular now (``popular_weight``)."""
    new_slots: int = field(default=3, metadata=_bounds(0, 100, "new_slots"))
    """Places kept for films new on the service (``new_slots``)."""
    next: float = field(default=0.5, metadata=_bounds(0.0, 10.0, "next_weight"))
    """What comes next after the viewer's last films (``next_weight``)."""

    @classmethod
    def from_settings(cls, settings: Any) -> RankingWeights:
        return cls(**{f.name: getattr(settings, f.metadata["setting"])
                      for f in dataclasses.fields(cls) if f.metadata["setting"]})

    def alone(self, source: str) -> RankingWeights:
        """One source on, every other off: an experiment's variant of that source."""
        return RankingWeights(**{f.name: (getattr(self, f.name) if f.name == source else 0)
                                 for f in dataclasses.fields(self)
                                 if f.name != "cold_content"},
                              cold_content=self.cold_content)

    def check(self) -> RankingWeights:
        for f in dataclasses.fields(self):
            value, low, high = getattr(self, f.name), f.metadata["low"], f.metadata["high"]
            if value < low or (high is not None and value > high):
                raise ValueError(f"ranking weight {f.name} must be within {low}..{high}, "
                                 f"got {value}")
        return self


class Source(Protocol):
    """One source of a viewer's ranking (:mod:`recommender.viewers.sources`), made once
    per service from :class:`Needs`."""

    name: str

    def __init__(self, needs: Needs) -> None: ...

    def scores(self, context: Context) -> Scores | None:
        """This viewer's scores now; None where the source has nothing for them."""
        ...


def standardised(values: np.ndarray) -> np.ndarray:
    """``values`` with mean 0 and deviation 1 (all 0 where they don't vary)."""
    deviation = float(values.std())
    return (values - float(values.mean())) / deviation if deviation > 0 else values * 0.0
