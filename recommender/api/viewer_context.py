"""The viewer's context of a request: their country and age limit, which every answer
obeys (:meth:`recommender.search.filters.FilterMasks.context`).

A request's own ``country`` / ``max_age`` (query parameters, or a body's ``context``)
override what the viewer has stored (``PUT /users/{user}``), which overrides
``RECOMMENDER_DEFAULT_COUNTRY``. What a viewer stored is read from the database and kept
for :data:`CACHE_SECONDS` per process, so a change reaches every worker within that.
Without a database, a request naming a viewer is a 503: a kids profile that can't be read
is not served as an adult's.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from recommender.config import Settings
from recommender.errors import InvalidParameter
from recommender.storage.viewers import ViewerContext

CACHE_SECONDS = 2.0
CACHE_SIZE = 10_000


class ContextCache:
    """Viewers' stored contexts, each kept :data:`CACHE_SECONDS` (LRU, bounded)."""

    def __init__(self) -> None:
        self._kept: OrderedDict[str, tuple[float, ViewerContext | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, user: str, load: Callable[[str], ViewerContext | None]
            ) -> ViewerContext | None:
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(user)
            if kept is not None and kept[0] > now:
                return kept[1]
        found = load(user)
        with self._lock:
            self._kept[user] = (now + CACHE_SECONDS, found)
            self._kept.move_to_end(user)
            while len(self._kept) > CACHE_SIZE:
                self._kept.popitem(last=False)
        return found

    def forget(self, user: str) -> None:
        """This process's copy of ``user`` dropped (it just changed it)."""
        with self._lock:
            self._kept.pop(user, None)


def with_context(values: dict[str, Any], stored: ViewerContext | None,
                 settings: Settings) -> dict[str, Any]:
    """``values`` with the country and max_age that hold for this request filled in."""
    country = values.get("country") or (stored.country if stored else None) or \
        (settings.default_country.upper() or None)
    max_age = values.get("max_age")
    if max_age is None and stored is not None:
        max_age = stored.max_age
    if country is None and settings.require_country == "true":
        raise InvalidParameter(
            "country", "this service needs the viewer's country: give country=DK (a GET's "
            "query) or \"context\": {\"country\": \"DK\"} (a POST's body), or store it with "
            "PUT /users/{user}")
    return {**values, "country": country, "max_age": max_age}
