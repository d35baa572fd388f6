"""Changes to a catalog while it serves: a film put (added or replaced), patched or
withdrawn, each checked by the rules a catalog file's lines are checked by.

What a change is, before and after it is stored, lives here; where changes are kept is
:mod:`recommender.storage.catalog_log`'s job, how the served index takes them
:mod:`recommender.index.overlay`'s.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from recommender.catalog.facets import MaturityScale
from recommender.catalog.films import FIELDS, Catalog, Film, film_from_fields
from recommender.catalog.limits import ID_PATTERN
from recommender.errors import CatalogError, InvalidParameter

MAX_BULK = 1000
"""Changes one bulk request (or one stored batch) may hold."""
FILM_FIELDS = tuple(f for f in FIELDS if f != "id")
"""What a film's body may hold (its id is in the path)."""
OPS = ("put", "patch", "delete")


@dataclass(frozen=True)
class Change:
    """One change as stored: ``film`` is the whole film after it (None: withdrawn),
    with its vector where one was made (by the model named)."""

    seq: int
    film_id: str
    film: Film | None
    vector: np.ndarray | None
    model: str | None
    at: float
    """When it was committed, seconds since the epoch."""

    @property
    def withdrawn(self) -> bool:
        return self.film is None


@dataclass(frozen=True)
class Request:
    """One change asked for: ``fields`` are a put's whole body or a patch's fields."""

    op: str
    film_id: str
    fields: Mapping[str, Any] | None = None


def check_id(film_id: Any, where: str = "id") -> str:
    if not isinstance(film_id, str) or not ID_PATTERN.match(film_id):
        raise InvalidParameter(where, f"id {str(film_id)[:80]!r} is not URL-safe: use "
                               "lowercase letters, digits and single hyphens ([a-z0-9-]+)")
    return film_id


def film_from_body(film_id: str, body: Any, where: str = "body",
                   scale: MaturityScale | None = None) -> Film:
    """The film a put's body describes (``title`` and ``synopsis`` required); its
    ``maturity`` from ``scale`` (default: the default scale).

    Raises:
        InvalidParameter: naming the field and what is wrong; unknown fields too.
    """
    check_id(film_id)
    if not isinstance(body, dict):
        raise InvalidParameter(where, "the film must be a JSON object with at least "
                               "title and synopsis")
    unknown = sorted(set(body) - set(FILM_FIELDS) - {"id"})
    if unknown:
        raise InvalidParameter(f"{where}.{unknown[0]}" if where != "body" else unknown[0],
                               f"unknown field {unknown[0]!r}; a film has: "
                               f"{', '.join(FILM_FIELDS)}")
    if "id" in body and body["id"] != film_id:
        raise InvalidParameter("id", f"the body's id {str(body['id'])[:80]!r} is not the "
                               f"path's {film_id!r}; leave it out or make them agree")
    for key in ("title", "synopsis"):
        if body.get(key) is None:
            raise InvalidParameter(key, f"{key} is required (a film needs a title and a "
                                   "synopsis)")
    year = body.get("year")
    if isinstance(year, float) and year.is_integer():  # 2026.0 is an integer in JSON
        body = {**body, "year": int(year)}
    try:
        return film_from_fields("film", {**body, "id": film_id}, scale)
    except CatalogError as exc:
        raise InvalidParameter(exc.field or where, exc.reason,
                               **({"value": exc.details["value"]}
                                  if "value" in exc.details else {})) from None


def patched(film: Film, fields: Any, scale: MaturityScale | None = None) -> Film:
    """``film`` with ``fields`` changed (a field set to null is cleared), checked whole."""
    if not isinstance(fields, dict) or not fields:
        raise InvalidParameter("body", "a patch is a JSON object of the fields to change, "
                               f"e.g. {{\"available_until\": \"2026-12-31T23:59:59Z\"}}; "
                               f"a film has: {', '.join(FILM_FIELDS)}")
    current = {k: v for k, v in film.to_dict().items() if k != "id"}
    return film_from_body(film.id, {**current, **fields}, scale=scale)


def parse_requests(items: Iterable[Any], where: str = "changes") -> list[Request]:
    """Bulk changes, each ``{"op": "put", "film": {"id", ...}}``, ``{"op": "patch",
    "id", "fields": {...}}`` or ``{"op": "delete", "id"}``; a film at most once."""
    requests: list[Request] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, dict) or item.get("op") not in OPS:
            raise InvalidParameter(f"{at}.op", f"{at} must be an object whose op is one "
                                   f"of {', '.join(OPS)}")
        op = item["op"]
        allowed = {"put": {"op", "film"}, "patch": {"op", "id", "fields"},
                   "delete": {"op", "id"}}[op]
        extra = sorted(set(item) - allowed)
        if extra:
            raise InvalidParameter(f"{at}.{extra[0]}", f"{at}: a {op} holds only "
                                   f"{', '.join(sorted(allowed))}; got {extra[0]!r}")
        if op == "put":
            film = item.get("film")
            film_id = check_id(film.get("id") if isinstance(film, dict) else None,
                               f"{at}.film.id")
            request = Request(op, film_id, film)
        else:
            film_id = check_id(item.get("id"), f"{at}.id")
            if op == "patch" and not isinstance(item.get("fields"), dict):
                raise InvalidParameter(f"{at}.fields", f"{at}: a patch needs fields, an "
                                       "object of the fields to change")
            request = Request(op, film_id, item.get("fields"))
        if film_id in seen:
            raise InvalidParameter(f"{at}.id", f"{at}: film {film_id!r} is changed twice in "
                                   "one batch; send one change per film")
        seen.add(film_id)
        requests.append(request)
    if not requests:
        raise InvalidParameter(where, f"{where} must hold 1 to {MAX_BULK} changes")
    return requests


def next_boundary(films: Iterable[Film], now: float) -> float:
    """The first time after ``now`` at which one of ``films`` enters or leaves its
    window (inf: none will)."""
    soonest = float("inf")
    for film in films:
        if film.available_from is None and film.available_until is None:
            continue
        for moment in film.window():
            if now < moment < soonest:
                soonest = moment
    return soonest


def fold(catalog: Catalog, changes: Mapping[str, Change], after: int, through: int) -> Catalog:
    """``catalog`` (a file as read) with each film's newest change numbered in
    ``(after, through]`` applied: put films replace or join the file's, withdrawn ones
    leave it. What a build makes of the file and the changes taken online since."""
    films = {f.id: f for f in catalog.films}
    added = replaced = withdrawn = 0
    for change in sorted(changes.values(), key=lambda c: c.seq):
        if not after < change.seq <= through:
            continue
        known = change.film_id in films
        if change.film is None:
            withdrawn += known
            films.pop(change.film_id, None)
        else:
            added += not known
            replaced += known
            films[change.film_id] = change.film
    digest = hashlib.sha256(f"{catalog.sha256} changes {after}..{through}".encode()).hexdigest()
    return dataclasses.replace(catalog, films=list(films.values()), sha256=digest, changes={
        "from": after, "through": through, "added": added, "replaced": replaced,
        "withdrawn": withdrawn})
