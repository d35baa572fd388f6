"""What a film carries beyond its words, for the rules a service runs on: its kind (film
or series), its maturity rating, its people, where and when it may be shown (territories)
and the operator's own attributes. Each is checked here, wherever a film enters (a
catalog file, PUT, PATCH, bulk), and refused naming its field.

The maturity scale maps each rating to the least age it is for. The default knows the
ratings of the catalogs we hold (MPAA, US TV, the Indian certificates, a few historical
ones); an operator gives their own as a JSON file (``RECOMMENDER_MATURITY_SCALE``).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import iso3166

from recommender.catalog.moments import parse_moment

KINDS = ("film", "series")
KIND_WORDS = {"film": "film", "movie": "film", "series": "series", "tv show": "series",
              "show": "series", "tv series": "series"}
"""How catalogs spell a kind (Netflix's ``type`` is Movie / TV Show), case-insensitive."""

DEFAULT_SCALE: dict[str, int | None] = {
    # US films (MPAA); GP was PG's name in 1970-72
    "G": 0, "PG": 7, "GP": 7, "PG-13": 13, "R": 17, "NC-17": 18,
    # US television
    "TV-Y": 0, "TV-G": 0, "TV-Y7": 7, "TV-Y7-FV": 7, "TV-PG": 7, "TV-14": 14, "TV-MA": 17,
    # India (the IMDb file's certificates)
    "U": 0, "UA": 12, "U/A": 12, "A": 18,
    # an age as such (the IMDb file has one "16")
    "0": 0, "7": 7, "11": 11, "12": 12, "13": 13, "15": 15, "16": 16, "18": 18,
    # unrated: "Passed" and "Approved" were the Production Code's, before ages
    "NR": None, "UR": None, "Not Rated": None, "Unrated": None, "Passed": None,
    "Approved": None,
}
"""Rating -> least age (None: unrated). Ages follow Netflix's maturity levels (little
kids 0, older kids 7, teens 13, adults 17-18); an operator with other ideas gives a scale."""

PERSON_ROLES_PATTERN = re.compile(r"^[a-z][a-z_ -]{0,39}$")
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_PEOPLE = 200
MAX_TERRITORIES = 300
MAX_ATTRIBUTES = 50
MAX_NAME_CHARS = 200
MAX_ATTRIBUTE_CHARS = 1000
MAX_EXACT_INT = 2**53
"""The largest number an attribute may hold: every integer up to it is a float exactly."""


class FacetError(ValueError):
    """A facet's value is wrong: ``field`` names where (``people[3].name``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    """director, cast, writer ...: lowercase."""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "role": self.role}


@dataclass(frozen=True)
class Territory:
    """Where (ISO 3166-1 alpha-2) and when (``from <= now < until``) a film may be shown."""

    country: str
    start: str | None = None
    end: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"country": self.country, "from": self.start, "until": self.end}

    def window(self) -> tuple[float, float]:
        return (-math.inf if self.start is None else _seconds(self.start),
                math.inf if self.end is None else _seconds(self.end))


@functools.lru_cache(maxsize=8)
def _scale(where: str) -> MaturityScale:
    return MaturityScale.load(where)


@functools.lru_cache(maxsize=65_536)
def _seconds(moment: str) -> float:
    # a catalog's licences share their dates: each state of the live catalog lays out
    # every film's windows again (search/filters.py), parsed once here
    return datetime.fromisoformat(moment).timestamp()


class MaturityScale:
    """Ratings and the least age each is for; looked up case-insensitively, kept as
    the scale spells them."""

    def __init__(self, ages: Mapping[str, int | None], source: str = "default") -> None:
        self.ages = dict(ages)
        self.source = source
        self._by_folded = {k.casefold(): k for k in ages}

    def canonical(self, value: str) -> str | None:
        """The scale's spelling of ``value``; None where the scale doesn't know it."""
        return self._by_folded.get(value.strip().casefold())

    def age(self, rating: str | None) -> int | None:
        """The least age of ``rating``; None: unrated or no rating."""
        return None if rating is None else self.ages.get(rating)

    @classmethod
    def once(cls, path: str | Path | None) -> MaturityScale:
        """:meth:`load`, read once per process: each loaded index version asks again, and
        a file spoiled while serving must never refuse a version (a restart re-reads it)."""
        return _scale(str(path or ""))

    @classmethod
    def load(cls, path: str | Path | None) -> MaturityScale:
        """The default scale (``path`` None or empty), or the operator's file: a JSON
        object of rating -> least age (an integer 0-21, or null for unrated)."""
        if not path:
            return cls(DEFAULT_SCALE)
        where = str(path)
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"maturity scale {where}: not a readable JSON file ({exc})") \
                from None
        if not isinstance(data, dict) or not data:
            raise ValueError(f"maturity scale {where}: must be a JSON object of rating -> "
                             "least age, e.g. {\"Tilladt for alle\": 0, \"7\": 7, "
                             "\"15\": 15, \"Unrated\": null}")
        for rating, age in data.items():
            if not rating.strip() or len(rating) > 40:
                raise ValueError(f"maturity scale {where}: rating {rating!r} must be 1 to "
                                 "40 characters")
            if age is not None and (isinstance(age, bool) or not isinstance(age, int)
                                    or not 0 <= age <= 21):
                raise ValueError(f"maturity scale {where}: the age of {rating!r} must be "
                                 f"an integer from 0 to 21 or null (unrated), got {age!r}")
        return cls(data, where)


def parse_kind(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kind = KIND_WORDS.get(value.strip().casefold()) if isinstance(value, str) else None
    if kind is None:
        raise FacetError("kind", f"kind must be one of {', '.join(KINDS)} (or a catalog's "
                         f"Movie / TV Show), got {str(value)[:80]!r}")
    return kind


def parse_maturity(value: Any, scale: MaturityScale) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    rating = scale.canonical(value) if isinstance(value, str) else None
    if rating is None:
        known = ", ".join(list(scale.ages)[:30])
        raise FacetError("maturity", f"unknown maturity rating {str(value)[:80]!r}; the "
                         f"scale ({scale.source}) knows: {known}. Give your own scale with "
                         "RECOMMENDER_MATURITY_SCALE")
    return rating


def parse_people(value: Any) -> tuple[Person, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise FacetError("people", "people must be a list of {\"name\", \"role\"}")
    if len(value) > MAX_PEOPLE:
        raise FacetError("people", f"people may hold at most {MAX_PEOPLE} entries, got "
                         f"{len(value)}")
    people: list[Person] = []
    for i, item in enumerate(value):
        at = f"people[{i}]"
        if not isinstance(item, dict) or set(item) - {"name", "role"} or "name" not in item:
            raise FacetError(at, f"{at} must be {{\"name\": str, \"role\": str}}")
        name, role = item["name"], item.get("role", "cast")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
            raise FacetError(f"{at}.name", f"{at}.name must be a name of 1 to "
                             f"{MAX_NAME_CHARS} characters")
        if not isinstance(role, str) or not PERSON_ROLES_PATTERN.match(role.strip().lower()):
            raise FacetError(f"{at}.role", f"{at}.role must be a lowercase word such as "
                             f"director or cast, got {str(role)[:40]!r}")
        person = Person(" ".join(name.split()), role.strip().lower())
        if person not in people:
            people.append(person)
    return tuple(people)


def check_country(value: Any, field: str = "country") -> str:
    """An ISO 3166-1 alpha-2 code, upper case; FacetError otherwise."""
    code = value.strip().upper() if isinstance(value, str) else None
    if code is None or len(code) != 2 or code not in iso3166.countries_by_alpha2:
        raise FacetError(field, f"{field} must be an ISO 3166-1 alpha-2 country code "
                         f"(DK, SE, NO, US ...), got {str(value)[:40]!r}")
    return code


def parse_territories(value: Any) -> tuple[Territory, ...] | None:
    """None: no list (shown everywhere); a tuple (maybe empty: nowhere)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise FacetError("territories", "territories must be a list of {\"country\", "
                         "\"from\", \"until\"}")
    if len(value) > MAX_TERRITORIES:
        raise FacetError("territories", f"territories may hold at most {MAX_TERRITORIES} "
                         f"entries, got {len(value)}")
    out: list[Territory] = []
    for i, item in enumerate(value):
        at = f"territories[{i}]"
        if not isinstance(item, dict) or set(item) - {"country", "from", "until"} \
                or "country" not in item:
            raise FacetError(at, f"{at} must be {{\"country\": \"DK\", \"from\": time, "
                             "\"until\": time}} (from and until optional)")
        country = check_country(item["country"], f"{at}.country")
        window: dict[str, str | None] = {"from": None, "until": None}
        for key in ("from", "until"):
            if item.get(key) is not None:
                try:
                    window[key] = parse_moment(item[key])
                except ValueError as exc:
                    raise FacetError(f"{at}.{key}", f"{at}.{key} {exc}") from None
        if window["from"] is not None and window["until"] is not None \
                and window["from"] >= window["until"]:
            raise FacetError(f"{at}.until", f"{at}.until ({window['until']}) must be after "
                             f"its from ({window['from']})")
        out.append(Territory(country, window["from"], window["until"]))
    return tuple(out)


def parse_attributes(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FacetError("attributes", "attributes must be a JSON object of name -> "
                         "string, number, boolean or list of strings")
    if len(value) > MAX_ATTRIBUTES:
        raise FacetError("attributes", f"attributes may hold at most {MAX_ATTRIBUTES} "
                         f"names, got {len(value)}")
    out: dict[str, Any] = {}
    for name, item in value.items():
        at = f"attributes.{str(name)[:64]}"
        if not ATTRIBUTE_NAME.match(name):
            raise FacetError(at, f"attribute name {str(name)[:64]!r} must be letters, "
                             "digits and _, not starting with a digit (at most 64)")
        if isinstance(item, bool) or item is None:
            out[name] = item
        elif isinstance(item, int | float):
            # a number filters compare as a float: an integer past 2**53 would be another
            # number there, and one of 400 digits no float at all
            if not (isinstance(item, int) or math.isfinite(item)) or \
                    abs(item) > MAX_EXACT_INT:
                raise FacetError(at, f"{at} must be a number from -{MAX_EXACT_INT:,} to "
                                 f"{MAX_EXACT_INT:,}")
            out[name] = item
        elif isinstance(item, str):
            if len(item) > MAX_ATTRIBUTE_CHARS:
                raise FacetError(at, f"{at} may be at most {MAX_ATTRIBUTE_CHARS} characters")
            out[name] = item
        elif isinstance(item, list) and all(isinstance(v, str) for v in item):
            if len(item) > 100 or any(len(v) > MAX_NAME_CHARS for v in item):
                raise FacetError(at, f"{at} may hold at most 100 strings of at most "
                                 f"{MAX_NAME_CHARS} characters")
            out[name] = tuple(item)
        else:
            raise FacetError(at, f"{at} must be a string, number, boolean or list of "
                             f"strings, got {type(item).__name__}")
    return {k: v for k, v in out.items() if v is not None}


def kept_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A catalog's fields that no film field takes, as attributes: named as attributes are,
    a long text cut at :data:`MAX_ATTRIBUTE_CHARS`, at most :data:`MAX_ATTRIBUTES`. A
    value no attribute can hold (an object, a list of numbers, null) is left out: a field
    that was never read must not refuse a film it didn't refuse before."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if len(out) >= MAX_ATTRIBUTES:
            break
        if isinstance(value, str):
            value = value[:MAX_ATTRIBUTE_CHARS]
        elif isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                continue
            value = [v[:MAX_NAME_CHARS] for v in value[:100]]
        elif isinstance(value, bool):
            pass
        elif not isinstance(value, int | float) or not (
                isinstance(value, int) or math.isfinite(value)) or abs(value) > MAX_EXACT_INT:
            continue
        out.setdefault(attribute_name(key), value)
    return out


def attribute_name(column: str) -> str:
    """A CSV column's name as an attribute's (letters, digits and _)."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", column.strip()).strip("_") or "column"
    return ("_" + name if name[0].isdigit() else name)[:64]


def cell_value(text: str) -> Any:
    """A CSV cell as an attribute's value: a number where it is one, else the text."""
    text = text.strip()
    if re.fullmatch(r"-?\d{1,15}", text):
        return int(text)
    if re.fullmatch(r"-?\d{1,15}\.\d{1,10}", text):
        return float(text)
    return text[:MAX_ATTRIBUTE_CHARS]
