"""The sources of a viewer's ranking, behind one contract (:mod:`.base`).

Each source answers, for one viewer now, a score for every film of the index (or nothing,
where it has nothing for them) and the reason for any one film; the blend
(:mod:`recommender.viewers.blend`) adds them up with :class:`~.base.RankingWeights`. A
source is one module here and one line of :data:`SOURCES`; an experiment's variant names
a source of this registry to serve it alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from recommender.viewers.sources.base import Context, RankingWeights, Scores, Source
from recommender.viewers.sources.collaborative import CollaborativeSource
from recommender.viewers.sources.content import ContentSource
from recommender.viewers.sources.new import NewSource
from recommender.viewers.sources.next import NextSource
from recommender.viewers.sources.popular import PopularSource

SOURCES: dict[str, type[Source]] = {
    "collaborative": CollaborativeSource,
    "content": ContentSource,
    "popular": PopularSource,
    "new": NewSource,
    "next": NextSource,
}
"""Every source by the name the blend's weights and the experiments use."""


def learners() -> dict[str, Callable[[Any], np.ndarray]]:
    """Each source that learns from the interactions at training (its static ``learn``:
    viewers x films -> films x films), by name: ``recommender train`` writes what each
    learns beside the model, and the model maps it as ``learned[name]``."""
    return {name: source.learn for name, source in SOURCES.items()  # type: ignore[attr-defined]
            if callable(getattr(source, "learn", None))}

__all__ = ["SOURCES", "Context", "RankingWeights", "Scores", "Source", "learners"]
