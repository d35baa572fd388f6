"""The synchronous client: one :class:`httpx.Client`, the routes as methods."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx

from recommender_client import _calls as calls
from recommender_client import models
from recommender_client._calls import Call, EventsResult
from recommender_client.errors import Unavailable


class Client:
    """The service at ``base_url``.

    Args:
        api_key: sent as ``X-API-Key`` (a key, or a viewer token its application signed).
        timeout: seconds for each request.
        retries: how many times a request that may be sent again (reads, puts, deletes,
            events with their ids) is sent again after a 503, a 429 or a broken
            connection, waiting what ``Retry-After`` says, else 0.2 s doubling.
        max_wait: the longest wait between two tries.
    """

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 10.0,
                 retries: int = 3, backoff: float = 0.2, max_wait: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Accept": "application/json", "User-Agent": "recommender-client/0.1"}
        if api_key:
            headers["X-API-Key"] = api_key
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers,
                                  timeout=timeout, transport=transport)
        self.retries, self.backoff, self.max_wait = retries, backoff, max_wait

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, call: Call) -> Any:
        for attempt in range(self.retries + 1):
            last = attempt == self.retries or not call.idempotent
            try:
                response = self._http.request(call.method, call.path, params=call.params,
                                              json=call.body)
            except httpx.TransportError as exc:
                if last:
                    raise calls.transport_error(exc) from exc
                time.sleep(calls.wait(attempt, None, self.backoff, self.max_wait))
                continue
            if response.status_code in (429, 503) and not last:
                asked = calls.retry_after(response.headers)
                time.sleep(calls.wait(attempt, asked, self.backoff, self.max_wait))
                continue
            return calls.outcome(call, response.status_code, response.headers, response.json)
        raise Unavailable("no attempt was made")  # retries < 0

    # -- the catalog's answers -----------------------------------------------------

    def similar(self, film_id: str | None = None, *, title: str | None = None,
                year: int | None = None, k: int = 10, **filters: Any) -> models.ResultPageOut:
        """Films like one film, by id or by ``title`` (filters: ``year_min``, ``genres``,
        ``mode``, ``exclude``, ``diversity``, ``explain``, the viewer's ``country`` and
        ``max_age``, a ``filter`` expression ...)."""
        return self._call(calls.similar(film_id, title, year, k, filters))

    def search(self, q: str, *, k: int = 10, **filters: Any) -> models.ResultPageOut:
        """Films matching a free-text description (``results`` empty and ``nearest`` set
        where nothing is close)."""
        return self._call(calls.search(q, k, filters))

    def recommend(self, positive: Iterable[Any] = (), negative: Iterable[Any] = (), *,
                  query: str | None = None, k: int = 10, **options: Any) -> models.ResultPageOut:
        """Films like the ``positive`` ones (titles, ``{"id": ...}``), unlike ``negative``."""
        return self._call(calls.recommend({"positive": list(positive),
                                           "negative": list(negative), "query": query,
                                           "k": k, **options}))

    def film(self, film_id: str) -> models.FilmOut:
        return self._call(calls.film(film_id))

    def films(self, page_size: int = 500) -> Iterator[models.FilmListItem]:
        """Every film of the catalog, a page at a time."""
        offset = 0
        while True:
            page: models.FilmListOut = self._call(calls.films_page(offset, page_size))
            yield from page.films
            offset += len(page.films)
            if not page.films or offset >= page.total:
                return

    def trending(self, k: int = 10) -> models.ResultPageOut:
        return self._call(calls.trending(k))

    # -- viewers ---------------------------------------------------------------------

    def send_events(self, events: Iterable[Mapping[str, Any]]) -> EventsResult:
        """Send events in chunks the service takes (1,000), each with an ``event_id`` (one
        is made where absent) so that a chunk sent again is stored once; returns what was
        stored and each refused event with its reason."""
        result = EventsResult()
        pending = calls.with_ids(events)
        for start in range(0, len(pending), calls.EVENTS_PER_REQUEST):
            chunk = pending[start:start + calls.EVENTS_PER_REQUEST]
            calls.add_chunk(result, self._call(calls.events_chunk(chunk)), chunk, start)
        return result

    def click(self, recommendation_id: str, film: str, user: str) -> EventsResult:
        """A film opened from an answer: credited to that answer on the dashboard."""
        return self.send_events([{"user": user, "film": {"id": film}, "type": "click",
                                  "recommendation_id": recommendation_id}])

    def user_recommendations(self, user: str, *, k: int = 10,
                             **filters: Any) -> models.ResultPageOut:
        return self._call(calls.user_recommendations(user, k, filters))

    def user_rows(self, user: str, *, rows: int = 3, k: int = 10) -> models.RowsOut:
        return self._call(calls.user_rows(user, rows, k))

    def history(self, user: str, *, limit: int = 50) -> models.HistoryOut:
        return self._call(calls.history(user, limit))

    def delete_user(self, user: str) -> None:
        """Erase a viewer: their events, impressions and stored context."""
        self._call(calls.delete_user(user))

    def viewer(self, user: str) -> models.ViewerOut:
        """The viewer's stored context: country and age limit."""
        return self._call(calls.viewer(user))

    def set_viewer(self, user: str, *, country: str | None = None,
                   max_age: int | None = None) -> models.ViewerOut:
        """Store the viewer's context whole (``max_age=7``: a kids profile); every answer
        for them obeys it, unless a request gives its own ``country`` or ``max_age``."""
        return self._call(calls.set_viewer(user, country, max_age))

    def rank(self, user: str, films: Iterable[str], *, filter: str | None = None,
             **context: Any) -> models.ResultPageOut:
        """The ``films`` given (up to 500 ids), ordered for this viewer with reasons;
        ``context``: ``country``, ``max_age``."""
        return self._call(calls.rank(user, films, context, filter))

    # -- catalog writes --------------------------------------------------------------

    def put_film(self, film_id: str, film: Mapping[str, Any]) -> models.ChangeOut:
        return self._call(calls.put_film(film_id, film))

    def patch_film(self, film_id: str, changes: Mapping[str, Any]) -> models.ChangeOut:
        return self._call(calls.patch_film(film_id, changes))

    def delete_film(self, film_id: str) -> models.ChangeOut:
        return self._call(calls.delete_film(film_id))

    def bulk_films(self, changes: Iterable[Mapping[str, Any]]) -> models.BulkOut:
        return self._call(calls.bulk_films(changes))

    # -- the service -----------------------------------------------------------------

    def health(self) -> models.HealthOut:
        return self._call(calls.health())

    def ready(self) -> models.ReadyOut:
        """Readiness; a 503 (not ready) raises :class:`Unavailable` once retries are spent."""
        return self._call(calls.ready())
