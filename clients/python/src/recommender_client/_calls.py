"""What each of the service's routes is asked and answers, independent of how it is sent:
the sync :class:`~recommender_client.Client` and the :class:`~recommender_client.AsyncClient`
send the same :class:`Call` and read the answer the same way, so they can't drift."""

from __future__ import annotations

import email.utils
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel

from recommender_client import models
from recommender_client.errors import RecommenderError, error_for

EVENTS_PER_REQUEST = 1000
"""The most events one ``POST /events`` takes: ``send_events`` sends chunks of this."""


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict[str, Any] | None = None
    body: Any = None
    model: type[BaseModel] | None = None
    """What a success is read as (None: nothing: 204)."""
    idempotent: bool = True
    """Safe to send again after a 503, a 429 or a broken connection."""


@dataclass
class RejectedEvent:
    """One event the service refused: its place in what was sent, the event, and why."""

    index: int
    event: dict[str, Any]
    code: str
    message: str


@dataclass
class EventsResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[RejectedEvent] = field(default_factory=list)


def _segment(value: str) -> str:
    return quote(value, safe="")


def _query(k: int | None, filters: Mapping[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {} if k is None else {"k": k}
    for name, value in filters.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set):
            params[name] = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            params[name] = "true" if value else "false"
        else:
            params[name] = value
    return params


def similar(film_id: str | None, title: str | None, year: int | None, k: int,
            filters: Mapping[str, Any]) -> Call:
    if (film_id is None) == (title is None):
        raise ValueError("give a film id, or title=")
    if film_id is not None:
        return Call("GET", f"/films/{_segment(film_id)}/similar", _query(k, filters),
                    model=models.ResultPageOut)
    return Call("GET", "/similar", {"title": title, **({"year": year} if year else {}),
                                    **_query(k, filters)}, model=models.ResultPageOut)


def search(q: str, k: int, filters: Mapping[str, Any]) -> Call:
    return Call("GET", "/search", {"q": q, **_query(k, filters)}, model=models.ResultPageOut)


def recommend(body: dict[str, Any]) -> Call:
    # a read: sending it again changes nothing
    return Call("POST", "/recommend", body={k: v for k, v in body.items() if v is not None},
                model=models.ResultPageOut)


def film(film_id: str) -> Call:
    return Call("GET", f"/films/{_segment(film_id)}", model=models.FilmOut)


def films_page(offset: int, limit: int) -> Call:
    return Call("GET", "/films", {"offset": offset, "limit": limit}, model=models.FilmListOut)


def user_recommendations(user: str, k: int, filters: Mapping[str, Any]) -> Call:
    return Call("GET", f"/users/{_segment(user)}/recommendations", _query(k, filters),
                model=models.ResultPageOut)


def user_rows(user: str, rows: int, k: int) -> Call:
    return Call("GET", f"/users/{_segment(user)}/rows", {"rows": rows, "k": k},
                model=models.RowsOut)


def history(user: str, limit: int) -> Call:
    return Call("GET", f"/users/{_segment(user)}/history", {"limit": limit},
                model=models.HistoryOut)


def delete_user(user: str) -> Call:
    return Call("DELETE", f"/users/{_segment(user)}")


def viewer(user: str) -> Call:
    return Call("GET", f"/users/{_segment(user)}", model=models.ViewerOut)


def set_viewer(user: str, country: str | None, max_age: int | None) -> Call:
    return Call("PUT", f"/users/{_segment(user)}", body={"country": country, "max_age": max_age},
                model=models.ViewerOut)


def rank(user: str, films: Iterable[str], context: Mapping[str, Any],
         filter: str | None) -> Call:
    body: dict[str, Any] = {"films": list(films)}
    if context:
        body["context"] = dict(context)
    if filter is not None:
        body["filter"] = filter
    return Call("POST", f"/users/{_segment(user)}/rank", body=body, model=models.ResultPageOut)


def trending(k: int) -> Call:
    return Call("GET", "/trending", {"k": k}, model=models.ResultPageOut)


def put_film(film_id: str, film: Mapping[str, Any]) -> Call:
    return Call("PUT", f"/films/{_segment(film_id)}", body=dict(film), model=models.ChangeOut)


def patch_film(film_id: str, changes: Mapping[str, Any]) -> Call:
    # a patch that sets fields is the same twice; the service serializes writers of a film
    return Call("PATCH", f"/films/{_segment(film_id)}", body=dict(changes),
                model=models.ChangeOut)


def delete_film(film_id: str) -> Call:
    return Call("DELETE", f"/films/{_segment(film_id)}", model=models.ChangeOut)


def bulk_films(changes: Iterable[Mapping[str, Any]]) -> Call:
    # all or nothing, of puts, patches and withdrawals: the same result sent twice
    return Call("POST", "/films/bulk", body={"changes": [dict(c) for c in changes]},
                model=models.BulkOut)


def health() -> Call:
    return Call("GET", "/health", model=models.HealthOut)


def ready() -> Call:
    return Call("GET", "/ready", model=models.ReadyOut)


def with_ids(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each event with an ``event_id`` (a new one where it had none): the service stores
    an id once, so a chunk sent again after a lost answer is not counted twice."""
    return [{**e, "event_id": e.get("event_id") or uuid.uuid4().hex} for e in events]


def events_chunk(events: list[dict[str, Any]]) -> Call:
    return Call("POST", "/events", body={"events": events}, model=models.EventsOut)


def add_chunk(result: EventsResult, answer: models.EventsOut, chunk: list[dict[str, Any]],
              start: int) -> None:
    result.accepted += answer.accepted
    result.duplicates += answer.duplicates
    for refused in answer.rejected:
        i = int(refused.get("index", 0))
        error = refused.get("error") or {}
        result.rejected.append(RejectedEvent(start + i, chunk[i] if i < len(chunk) else {},
                                             str(error.get("code", "")),
                                             str(error.get("message", ""))))


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the service asked to wait (``Retry-After``: seconds or an HTTP date)."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time()) if when else None


def wait(attempt: int, asked: float | None, backoff: float, ceiling: float) -> float:
    """How long to wait before the attempt after ``attempt`` (0 the first): what the
    service asked, else exponential backoff, never past ``ceiling``."""
    return min(ceiling, asked if asked is not None else backoff * (2 ** attempt))


def outcome(call: Call, status: int, headers: Mapping[str, str], read_json: Any) -> Any:
    """The answer as its model, or the error the service gave, raised."""
    if 200 <= status < 300:
        if call.model is None or status == 204:
            return None
        return call.model.model_validate(read_json())
    try:
        body = read_json()
    except ValueError:
        body = None
    raise error_for(status, body, retry_after(headers))


def transport_error(exc: Exception) -> RecommenderError:
    from recommender_client.errors import Unavailable

    return Unavailable(f"the service could not be reached: {exc}", 0, "unreachable")
