"""The routes that change the catalog while it serves: ``PUT``, ``PATCH`` and ``DELETE
/films/{id}`` and ``POST /films/bulk``. They parse and call the
:class:`~recommender.distribution.catalog_writer.CatalogWriter`; a film is checked by the
rules a catalog file's lines are (:mod:`recommender.catalog.changes`). Who may write is
:mod:`recommender.api.access`'s (an admin key, or loopback where none is set).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from recommender.api import http_io
from recommender.api.facet_schemas import Attributes, Kind, Maturity, People, Territories
from recommender.api.patterns import ID_RE, IMAGE_RE, NOT_BLANK
from recommender.catalog.changes import MAX_BULK, Request, check_id, parse_requests
from recommender.catalog.limits import (
    MAX_GENRE_CHARS,
    MAX_LANGUAGE_CHARS,
    MAX_LIST_ITEMS,
    MAX_SYNOPSIS_CHARS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    MAX_YEAR,
    MIN_YEAR,
)
from recommender.distribution.catalog_writer import CatalogWriter, Written
from recommender.errors import InvalidParameter

bp = Blueprint("catalog", __name__)

WRITE_METHODS = frozenset({"PUT", "PATCH", "DELETE"})


def is_catalog_write(method: str, path: str) -> bool:
    """Whether a request changes the catalog (and so needs what /admin needs)."""
    return (method in WRITE_METHODS and path.startswith("/films/")) or \
        (method == "POST" and path == "/films/bulk")


def _writer() -> CatalogWriter:
    return CatalogWriter(http_io.live().catalog)


def _counted(written: list[Written]) -> list[Written]:
    metrics = http_io.metrics()
    for item in written:
        op = "withdraw" if item.change.film is None else ("add" if item.created else "replace")
        metrics.catalog_changes.labels(op=op).inc()
    return written


@bp.put("/films/<film_id>")
def put_film(film_id: str) -> Any:
    http_io.no_params()
    check_id(film_id)
    body = http_io.json_body()
    [done] = _counted(_writer().apply([Request("put", film_id, body)]))
    return jsonify(done.to_dict()), 201 if done.created else 200


@bp.patch("/films/<film_id>")
def patch_film(film_id: str) -> Any:
    http_io.no_params()
    check_id(film_id)
    [done] = _counted(_writer().apply([Request("patch", film_id, http_io.json_body())]))
    return jsonify(done.to_dict())


@bp.delete("/films/<film_id>")
def delete_film(film_id: str) -> Any:
    http_io.no_params()
    check_id(film_id)
    [done] = _counted(_writer().apply([Request("delete", film_id)]))
    return jsonify(done.to_dict())


@bp.post("/films/bulk")
def bulk() -> Any:
    http_io.no_params()
    request.max_content_length = http_io.settings().catalog_max_body_bytes
    body = http_io.json_body()
    if not isinstance(body, dict) or set(body) != {"changes"} or \
            not isinstance(body["changes"], list):
        raise InvalidParameter("changes", 'the body is {"changes": [...]}, each change '
                               '{"op": "put", "film": {...}}, {"op": "patch", "id", "fields"} '
                               'or {"op": "delete", "id"}')
    if len(body["changes"]) > MAX_BULK:
        raise InvalidParameter("changes", f"a bulk request holds 1 to {MAX_BULK} changes, got "
                               f"{len(body['changes'])}; split it", max_items=MAX_BULK)
    written = _counted(_writer().apply(parse_requests(body["changes"])))
    counts = {"created": 0, "replaced": 0, "withdrawn": 0}
    for item in written:
        counts[item.to_dict()["status"]] += 1
    return jsonify({**counts, "changes": [w.to_dict() for w in written]})


# -- documentation models (the checks are the catalog's own) -----------------------------

Aliases = Annotated[list[Annotated[str, Field(max_length=MAX_TITLE_CHARS)]],
                    Field(max_length=MAX_LIST_ITEMS)]
Genres = Annotated[list[Annotated[str, Field(max_length=MAX_GENRE_CHARS)]],
                   Field(max_length=MAX_LIST_ITEMS)]


class FilmIn(BaseModel):
    """A film as ``PUT /films/{id}`` takes it: a catalog line without its id."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS, pattern=NOT_BLANK)
    synopsis: str = Field(min_length=1, max_length=MAX_SYNOPSIS_CHARS, pattern=NOT_BLANK,
                          description="embedded as it is")
    year: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR)
    original_title: str | None = Field(None, max_length=MAX_TITLE_CHARS)
    aliases: Aliases | None = Field([], description="null: none")
    genres: Genres | None = Field([], description="null: none")
    language: str | None = Field(None, max_length=MAX_LANGUAGE_CHARS,
                                 description="ISO 639-1 code of the synopsis")
    image_url: str | None = Field(None, pattern=IMAGE_RE, max_length=MAX_URL_CHARS)
    available_from: str | None = Field(None, json_schema_extra={"format": "date-time"},
                                       description="before it the film is in no answer")
    available_until: str | None = Field(None, json_schema_extra={"format": "date-time"},
                                        description="after available_from; from it the "
                                        "film is in no answer")
    kind: Kind = None
    maturity: Maturity = None
    people: People = None
    territories: Territories = None
    attributes: Attributes = None


class FilmWithId(FilmIn):
    id: str = Field(pattern=ID_RE)


PatchedTitle = Annotated[str | None, WithJsonSchema(
    {"type": "string", "minLength": 1, "maxLength": MAX_TITLE_CHARS, "pattern": NOT_BLANK})]
PatchedSynopsis = Annotated[str | None, WithJsonSchema(
    {"type": "string", "minLength": 1, "maxLength": MAX_SYNOPSIS_CHARS, "pattern": NOT_BLANK})]
"""Optional in a patch, but never null: a film keeps a title and a synopsis."""


class FilmPatch(BaseModel):
    """Some fields of a film (null clears an optional one)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})
    title: PatchedTitle = None
    synopsis: PatchedSynopsis = None
    year: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR)
    original_title: str | None = Field(None, max_length=MAX_TITLE_CHARS)
    aliases: Aliases | None = None
    genres: Genres | None = None
    language: str | None = Field(None, max_length=MAX_LANGUAGE_CHARS)
    image_url: str | None = Field(None, pattern=IMAGE_RE, max_length=MAX_URL_CHARS)
    available_from: str | None = Field(None, json_schema_extra={"format": "date-time"})
    available_until: str | None = Field(None, json_schema_extra={"format": "date-time"})
    kind: Kind = None
    maturity: Maturity = None
    people: People = None
    territories: Territories = None
    attributes: Attributes = None


class PutChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    op: Literal["put"]
    film: FilmWithId


class PatchChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    op: Literal["patch"]
    id: str = Field(pattern=ID_RE)
    fields: FilmPatch


class DeleteChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    op: Literal["delete"]
    id: str = Field(pattern=ID_RE)


class BulkRequest(BaseModel):
    """Each film at most once in a request."""

    model_config = ConfigDict(extra="forbid")
    changes: list[PutChange | PatchChange | DeleteChange] = Field(min_length=1,
                                                                  max_length=MAX_BULK)


class ChangeOut(BaseModel):
    id: str
    seq: int = Field(description="the change's number in the catalog's log")
    status: Literal["created", "replaced", "withdrawn"]
    film: dict[str, Any] | None = Field(None, description="the film as it now is")


class BulkOut(BaseModel):
    created: int
    replaced: int
    withdrawn: int
    changes: list[ChangeOut]
