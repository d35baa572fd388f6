"""A film: what it holds and the one set of rules it is checked by, wherever it enters
(a catalog file's line, PUT, PATCH, bulk). Reading whole catalogs is
:mod:`recommender.catalog.films`'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from recommender.catalog import facets, limits
from recommender.catalog.facets import FacetError, MaturityScale, Person, Territory
from recommender.catalog.moments import parse_moment
from recommender.errors import CatalogError

FIELDS = ("id", "title", "synopsis", "year", "original_title", "aliases", "genres", "language",
          "image_url", "available_from", "available_until", "kind", "maturity", "people",
          "territories", "attributes")
"""What a film may hold; in a catalog file, any other field is kept in its attributes."""
DEFAULT_SCALE = MaturityScale(facets.DEFAULT_SCALE)


@dataclass(frozen=True)
class Film:
    id: str
    title: str
    synopsis: str
    year: int | None = None
    original_title: str | None = None
    aliases: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()
    language: str | None = None
    image_url: str | None = None
    """A poster or still: an http(s) URL or a path on this server; shown where present."""
    available_from: str | None = None
    """When the film may first be shown (ISO 8601 UTC, ``...Z``); None: always could."""
    available_until: str | None = None
    """When it may no longer be shown (a licence's end); None: never."""
    kind: str | None = None
    """film or series; None: not said."""
    maturity: str | None = None
    """A rating of the maturity scale (:mod:`recommender.catalog.facets`); None: unrated."""
    people: tuple[Person, ...] = ()
    territories: tuple[Territory, ...] | None = None
    """Where and when it may be shown; None: everywhere (within the window above)."""
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """The operator's own fields: string, number, boolean or a tuple of strings."""

    def to_dict(self) -> dict[str, Any]:
        # by hand: dataclasses.asdict deep-copies every field, a third of a small rebuild
        return {"id": self.id, "title": self.title, "synopsis": self.synopsis,
                "year": self.year, "original_title": self.original_title,
                "aliases": list(self.aliases), "genres": list(self.genres),
                "language": self.language, "image_url": self.image_url,
                "available_from": self.available_from, "available_until": self.available_until,
                "kind": self.kind, "maturity": self.maturity,
                "people": [p.to_dict() for p in self.people],
                "territories": None if self.territories is None else
                [t.to_dict() for t in self.territories],
                "attributes": {k: list(v) if isinstance(v, tuple) else v
                               for k, v in self.attributes.items()}}

    def window(self) -> tuple[float, float]:
        """(from, until) in seconds since the epoch; open ends -inf and +inf."""
        return (_timestamp(self.available_from, float("-inf")),
                _timestamp(self.available_until, float("inf")))

    def available_at(self, now: float) -> bool:
        """Whether the film may be shown at ``now``: ``from <= now < until``."""
        start, end = self.window()
        return start <= now < end

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Film:
        """Rebuild a film already validated (e.g. from an index's films.jsonl)."""
        return cls(
            id=d["id"], title=d["title"], synopsis=d["synopsis"], year=d.get("year"),
            original_title=d.get("original_title"), aliases=tuple(d.get("aliases") or ()),
            genres=tuple(d.get("genres") or ()), language=d.get("language"),
            image_url=d.get("image_url"), available_from=d.get("available_from"),
            available_until=d.get("available_until"), kind=d.get("kind"),
            maturity=d.get("maturity"),
            people=tuple(Person(p["name"], p["role"]) for p in d.get("people") or ()),
            territories=None if d.get("territories") is None else tuple(
                Territory(t["country"], t.get("from"), t.get("until"))
                for t in d["territories"]),
            attributes={k: tuple(v) if isinstance(v, list) else v
                        for k, v in (d.get("attributes") or {}).items()},
        )


def _timestamp(value: str | None, default: float) -> float:
    return default if value is None else datetime.fromisoformat(value).timestamp()


def with_value(row: dict[str, Any], make: Callable[[], Film]) -> Film:
    """``make()``, its error given the value of the field it names, from ``row``."""
    try:
        return make()
    except CatalogError as exc:
        if exc.field is not None and "value" not in exc.details:
            exc.with_value(row.get(exc.field))
        raise


def parse_year(path: str, lineno: int | None, field_name: str, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise CatalogError(path, f"year must be an integer, got {raw!r}", lineno, field_name)
    try:
        year = int(str(raw).strip())
    except ValueError:
        raise CatalogError(path, f"year must be an integer, got {raw!r}",
                           lineno, field_name) from None
    if not limits.MIN_YEAR <= year <= limits.MAX_YEAR:
        raise CatalogError(path, f"year {year} is outside {limits.MIN_YEAR}..{limits.MAX_YEAR}",
                           lineno, field_name)
    return year


def check_film(path: str, lineno: int | None, obj: dict[str, Any], language: str | None,
                      field_names: dict[str, str] | None = None, *,
                      scale: MaturityScale | None = None, unknown: str = "ignore") -> Film:
    """The film ``obj`` describes, checked; ``unknown="keep"``: fields a film doesn't have
    are kept in its attributes (a catalog file's), beside the ones it names."""
    names = field_names or {}

    def text(key: str, required: bool) -> str | None:
        value = obj.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise CatalogError(path, f"{key} must be a string", lineno, names.get(key, key))
        if not value.strip():
            if required:
                raise CatalogError(path, f"{key} is empty", lineno, names.get(key, key))
            return None
        return value

    def strings(key: str, longest: int) -> tuple[str, ...]:
        value = obj.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CatalogError(path, f"{key} must be a list of strings", lineno, key)
        if len(value) > limits.MAX_LIST_ITEMS or any(len(v) > longest for v in value):
            raise CatalogError(path, f"{key} may hold at most {limits.MAX_LIST_ITEMS} strings of "
                               f"at most {longest} characters each", lineno, key)
        return tuple(v.strip() for v in value if v.strip())

    def bounded(key: str, value: str | None, longest: int) -> str | None:
        if value is not None and len(value) > longest:
            raise CatalogError(path, f"{key} is {len(value):,} characters long; at most "
                               f"{longest:,}", lineno, names.get(key, key))
        return value

    film_id = obj.get("id")
    if film_id is None:
        raise CatalogError(path, "id is missing", lineno, names.get("id", "id"))
    if not isinstance(film_id, str) or not limits.ID_PATTERN.match(film_id):
        raise CatalogError(
            path, f"id {film_id!r} is not URL-safe: use lowercase letters, digits and "
            "single hyphens ([a-z0-9-]+)", lineno, names.get("id", "id"),
        )
    title = bounded("title", text("title", required=True), limits.MAX_TITLE_CHARS)
    synopsis = obj.get("synopsis")
    # The synopsis is embedded as it is, never altered: it is only checked.
    if not isinstance(synopsis, str):
        raise CatalogError(path, "synopsis must be a string", lineno,
                           names.get("synopsis", "synopsis"))
    if not synopsis.strip():
        raise CatalogError(path, "synopsis is empty", lineno, names.get("synopsis", "synopsis"))
    bounded("synopsis", synopsis, limits.MAX_SYNOPSIS_CHARS)
    year = obj.get("year")
    if year is not None:
        if isinstance(year, (str, bool)):
            raise CatalogError(path, f"year must be an integer, got {year!r}", lineno, "year")
        year = parse_year(path, lineno, "year", year)
    lang = bounded("language", text("language", required=False), limits.MAX_LANGUAGE_CHARS) \
        or language
    image_url = text("image_url", required=False)
    if image_url is not None:
        image_url = image_url.strip()
        if len(image_url) > limits.MAX_URL_CHARS or not limits.IMAGE_URL.match(image_url) \
                or (image_url[0] == "/" and limits.IMAGE_PATH_ESCAPES.search(image_url)):
            raise CatalogError(path, "image_url must be an http(s) URL or a path on this "
                               "server starting with / (no . or .. segments, no //host, no "
                               f"backslash; at most {limits.MAX_URL_CHARS} characters)", lineno,
                               names.get("image_url", "image_url"))
    window = {}
    for key in ("available_from", "available_until"):
        if obj.get(key) is not None:
            try:
                window[key] = parse_moment(obj[key])
            except ValueError as exc:
                raise CatalogError(path, f"{key} {exc}", lineno, key) from None
    if window.get("available_from", "") >= window.get("available_until", "~"):
        raise CatalogError(path, f"available_until ({window['available_until']}) must be after "
                           f"available_from ({window['available_from']})", lineno, key)
    assert title is not None
    extra = facets.kept_fields({k: v for k, v in obj.items() if k not in FIELDS}) \
        if unknown == "keep" else {}
    try:
        kind = facets.parse_kind(obj.get("kind"))
        maturity = facets.parse_maturity(obj.get("maturity"), scale or DEFAULT_SCALE)
        people = facets.parse_people(obj.get("people"))
        territories = facets.parse_territories(obj.get("territories"))
        attributes = facets.parse_attributes({**extra, **(obj.get("attributes") or {})}
                                             if extra else obj.get("attributes"))
    except FacetError as exc:
        raise CatalogError(path, exc.message, lineno, names.get(exc.field, exc.field)) \
            from None
    return Film(
        id=film_id, title=title.strip(), synopsis=synopsis, year=year,
        original_title=(bounded("original_title", text("original_title", required=False),
                                limits.MAX_TITLE_CHARS) or None),
        aliases=strings("aliases", limits.MAX_TITLE_CHARS),
        genres=strings("genres", limits.MAX_GENRE_CHARS),
        language=lang.strip().lower() if lang else None, image_url=image_url, **window,
        kind=kind, maturity=maturity, people=people, territories=territories,
        attributes=attributes,
    )


def film_from_fields(where: str, obj: dict[str, Any],
                     scale: MaturityScale | None = None) -> Film:
    """A film from a JSON object (a catalog line, a request's body), checked as a catalog
    file's lines are: the one set of rules for every way a film enters."""
    return with_value(obj, partial(check_film, where, None, obj, None, scale=scale))
