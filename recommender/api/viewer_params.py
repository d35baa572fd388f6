"""The ``user`` query parameter of the routes without a viewer in their path (a film's
"more like this" and "also liked", a search, trending): the viewer asking, where the
application knows them, so that their answer is recorded as theirs and served under
their experiment's variant (docs/feedback.md). Without it the answer is anonymous and in
no experiment, as before."""

from __future__ import annotations

from pydantic import BaseModel, Field

from recommender.api.schemas import QueryParams, SearchParams, SimilarParams, TrendingParams, UserId


class Viewer(BaseModel):
    user: UserId | None = Field(None, description="the viewer asking, where known: their "
                                "experiment's variant is served and their impression kept")


class FilmQueryParams(QueryParams, Viewer):
    """``/films/{id}/similar`` and ``/films/{id}/also-liked``."""


class TitleParams(SimilarParams, Viewer):
    """``/similar?title=``."""


class TextParams(SearchParams, Viewer):
    """``/search?q=``."""


class TrendingViewerParams(TrendingParams, Viewer):
    """``/trending``."""
