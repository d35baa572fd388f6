"""Popular now: each film's events over the last weeks, halved every
``popular_half_life_days`` (:meth:`~recommender.viewers.recency.DecayedCounts.by_row`),
counting less for a viewer long away (``popular_activity_half_life_days``: what was
popular while they were here says more of them than what is popular today)."""

from __future__ import annotations

from typing import Any

from recommender.viewers.recency import decayed
from recommender.viewers.sources.base import Context, Needs, Scores, standardised


class PopularSource:
    name = "popular"

    def __init__(self, needs: Needs) -> None:
        self.counts = needs.counts

    def scores(self, context: Context) -> Scores | None:
        settings, profile = context.settings, context.profile
        values = standardised(self.counts.by_row(context.engine.index,
                                                 settings.popular_half_life_days))
        scale = 1.0
        if settings.popular_activity_half_life_days and profile.newest:
            scale = decayed(context.now - max(profile.newest.values()),
                            settings.popular_activity_half_life_days)

        def reason(row: int) -> list[dict[str, Any]]:
            return [{"because": "popular_now"}]

        return Scores(values, reason, scale=scale)
