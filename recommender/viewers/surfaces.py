"""The surfaces: where in an application a list of films is shown, each named once here.

A surface is what an impression is recorded under, what an experiment is run on and what
``/admin/stats`` and the dashboard report by. The routes, the impression log and the
experiments file all take their names from :class:`Surface`, so a name spelt wrong is an
error where it is written (mypy, or the experiments file refused at start), never an
experiment that silently runs nowhere.
"""

from __future__ import annotations

from enum import StrEnum


class Surface(StrEnum):
    USER_RECOMMENDATIONS = "user_recommendations"
    """``GET /users/{user}/recommendations``: a viewer's own list."""
    USER_ROWS = "user_rows"
    """``GET /users/{user}/rows``: a viewer's home screen."""
    SIMILAR = "similar"
    """``GET /films/{id}/similar`` and ``GET /similar``: "more like this"."""
    ALSO_LIKED = "also_liked"
    """``GET /films/{id}/also-liked``: "viewers who watched this also watched"."""
    SEARCH = "search"
    """``GET /search``: free text."""
    RECOMMEND = "recommend"
    """``POST /recommend`` and its batch: films like several liked ones."""
    TRENDING = "trending"
    """``GET /trending``."""
    USER_RANK = "user_rank"
    """``POST /users/{user}/rank``: films the application chose, in this viewer's order."""
