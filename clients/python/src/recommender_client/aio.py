"""The asynchronous client: :class:`Client`'s methods, awaited (made from client.py by
clients/python/generate.py: don't edit by hand)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import httpx

from recommender_client import _calls as calls
from recommender_client import models
from recommender_client._calls import Call, EventsResult
from recommender_client.errors import Unavailable


class AsyncClient:
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
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = {"Accept": "application/json", "User-Agent": "recommender-client/0.1"}
        if api_key:
            headers["X-API-Key"] = api_key
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers,
                                  timeout=timeout, transport=transport)
        self.retries, self.backoff, self.max_wait = retries, backoff, max_wait

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, call: Call) -> Any:
        for attempt in range(self.retries + 1):
            last = attempt == self.retries or not call.idempotent
            try:
                response = await self._http.request(call.method, call.path, params=call.params,
                                              json=call.body)
            except httpx.TransportError as exc:
                if last:
                    raise calls.transport_error(exc) from exc
                await asyncio.sleep(calls.wait(attempt, None, self.backoff, self.max_wait))
                continue
            if response.status_code in (429, 503) and not last:
                asked = calls.retry_after(response.headers)
                await asyncio.sleep(calls.wait(attempt, asked, self.backoff, self.max_wait))
                continue
            return calls.outcome(call, response.status_code, response.headers, response.json)
        raise Unavailable("no attempt was made")  # retries < 0

    # -- the catalog's answers -----------------------------------------------------

    async def similar(self, film_id: str | None = None, *, title: str | None = None,
                year: int | None = None, k: int = 10, **filters: Any) -> models.ResultPageOut:
        """Films like one film, by id or by ``title`` (filters: ``year_min``, ``genres``,
        ``mode``, ``exclude``, ``diversity``, ``explain``, the viewer's ``country`` and
        ``max_age``, a ``filter`` expression ...)."""
        return await self._call(calls.similar(film_id, title, year, k, filters))

    async def search(self, q: str, *, k: int = 10, **filters: Any) -> models.ResultPageOut:
        """Films matching a free-text description (``results`` empty and ``nearest`` set
        where nothing is close)."""
        return await self._call(calls.search(q, k, filters))

    async def recommend(self, positive: Iterable[Any] = (), negative: Iterable[Any] = (), *,
                  query: str | None = None, k: int = 10, **options: Any) -> models.ResultPageOut:
        """Films like the ``positive`` ones (titles, ``{"id": ...}``), unlike ``negative``."""
        return await self._call(calls.recommend({"positive": list(positive),
                                           "negative": list(negative), "query": query,
                                           "k": k, **options}))

    async def film(self, film_id: str) -> models.FilmOut:
        return await self._call(calls.film(film_id))

    async def films(self, page_size: int = 500) -> AsyncIterator[models.FilmListItem]:
        """Every film of the catalog, a page at a time."""
        offset = 0
        while True:
            page: models.FilmListOut = await self._call(calls.films_page(offset, page_size))
            for item in page.films:
                yield item
            offset += len(page.films)
            if not page.films or offset >= page.total:
                return

    async def trending(self, k: int = 10) -> models.ResultPageOut:
        return await self._call(calls.trending(k))

    # -- viewers ---------------------------------------------------------------------

    async def send_events(self, events: Iterable[Mapping[str, Any]]) -> EventsResult:
        """Send events in chunks the service takes (1,000), each with an ``event_id`` (one
        is made where absent) so that a chunk sent again is stored once; returns what was
        stored and each refused event with its reason."""
        result = EventsResult()
        pending = calls.with_ids(events)
        for start in range(0, len(pending), calls.EVENTS_PER_REQUEST):
            chunk = pending[start:start + calls.EVENTS_PER_REQUEST]
            calls.add_chunk(result, await self._call(calls.events_chunk(chunk)), chunk, start)
        return result

    async def click(self, recommendation_id: str, film: str, user: str) -> EventsResult:
        """A film opened from an answer: credited to that answer on the dashboard."""
        return await self.send_events([{"user": user, "film": {"id": film}, "type": "click",
                                  "recommendation_id": recommendation_id}])

    async def user_recommendations(self, user: str, *, k: int = 10,
                             **filters: Any) -> models.ResultPageOut:
        return await self._call(calls.user_recommendations(user, k, filters))

    async def user_rows(self, user: str, *, rows: int = 3, k: int = 10) -> models.RowsOut:
        return await self._call(calls.user_rows(user, rows, k))

    async def history(self, user: str, *, limit: int = 50) -> models.HistoryOut:
        return await self._call(calls.history(user, limit))

    async def delete_user(self, user: str) -> None:
        """Erase a viewer: their events, impressions and stored context."""
        await self._call(calls.delete_user(user))

    async def viewer(self, user: str) -> models.ViewerOut:
        """The viewer's stored context: country and age limit."""
        return await self._call(calls.viewer(user))

    async def set_viewer(self, user: str, *, country: str | None = None,
                   max_age: int | None = None) -> models.ViewerOut:
        """Store the viewer's context whole (``max_age=7``: a kids profile); every answer
        for them obeys it, unless a request gives its own ``country`` or ``max_age``."""
        return await self._call(calls.set_viewer(user, country, max_age))

    async def rank(self, user: str, films: Iterable[str], *, filter: str | None = None,
             **context: Any) -> models.ResultPageOut:
        """The ``films`` given (up to 500 ids), ordered for this viewer with reasons;
        ``context``: ``country``, ``max_age``."""
        return await self._call(calls.rank(user, films, context, filter))

    # -- catalog writes --------------------------------------------------------------

    async def put_film(self, film_id: str, film: Mapping[str, Any]) -> models.ChangeOut:
        return await self._call(calls.put_film(film_id, film))

    async def patch_film(self, film_id: str, changes: Mapping[str, Any]) -> models.ChangeOut:
        return await self._call(calls.patch_film(film_id, changes))

    async def delete_film(self, film_id: str) -> models.ChangeOut:
        return await self._call(calls.delete_film(film_id))

    async def bulk_films(self, changes: Iterable[Mapping[str, Any]]) -> models.BulkOut:
        return await self._call(calls.bulk_films(changes))

    # -- the service -----------------------------------------------------------------

    async def health(self) -> models.HealthOut:
        return await self._call(calls.health())

    async def ready(self) -> models.ReadyOut:
        """Readiness; a 503 (not ready) raises :class:`Unavailable` once retries are spent."""
        return await self._call(calls.ready())
