"""What a query asks (:class:`QueryOptions`) and what it answers (:class:`ResultPage`).

Shared by the engine, the HTTP layer and the command line, so the same limits
and the same error messages hold everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from recommender.catalog.facets import FacetError, check_country
from recommender.catalog.films import Film
from recommender.catalog.titles import film_summary
from recommender.config import DEFAULT_MODE, MODES, Settings
from recommender.embedding.models import model_spec
from recommender.errors import InvalidParameter
from recommender.index.film_index import FilmIndex
from recommender.search.expressions import Node, expand, parse

DEFAULT_K = 10
SCORE_DECIMALS = 4
STRATEGIES = ("average", "best_score")
MAX_LIST_LIMIT = 1000
"""Films one page of ``GET /films`` may hold."""
MAX_AGE = 99
"""The largest ``max_age``: a limit beyond every rating's age."""
MAX_RESULT_WINDOW = 1000
"""``offset + k`` may not exceed this (as Elasticsearch's ``max_result_window``): the
work of a page grows with its depth, so the depth is bounded."""


FILTERS: dict[str, str] = {
    "year_min": "only films from this year on",
    "year_max": "only films up to this year",
    "genres": "only films with any of these genres",
    "language": "only films whose synopsis is in this language (ISO 639-1)",
    "filter": "only films this expression holds for, e.g. kind = \"series\" and genres has "
              "\"Drama\" (docs/rules.md); @name: a named filter of the rules",
    "country": "the viewer's country (ISO 3166-1 alpha-2): only films licensed there now",
    "max_age": "the viewer's age limit: only films rated for this age or younger",
}
"""The catalog filters a query takes, and what each means: declared once, here, beside
:class:`QueryOptions` which holds them; the request models (recommender/api/schemas.py) and
the command line's flags are made from it."""


@dataclass(frozen=True)
class QueryOptions:
    """How many, from where, ranked how, and which films may appear."""

    k: int = DEFAULT_K
    offset: int = 0
    year_min: int | None = None
    year_max: int | None = None
    mode: str = DEFAULT_MODE
    genres: tuple[str, ...] = ()
    """Only films with any of these genres (case-insensitive)."""
    language: str | None = None
    exclude: tuple[str, ...] = ()
    """Ids never to return, e.g. films the user has seen."""
    min_score: float | None = None
    diversity: float = 0.0
    """0: by relevance only; 1: each next film as unlike the ones above as possible (MMR)."""
    explain: bool = False
    filter: str | None = None
    """The filter expression as given (echoed); :attr:`filter_node` is what it means."""
    filter_node: Node | None = None
    """The expression parsed, named filters expanded (:mod:`recommender.search.expressions`)."""
    country: str | None = None
    """The viewer's country: only films licensed there now (None: only those licensed
    everywhere)."""
    max_age: int | None = None
    """Only films rated for this age or younger (unrated ones count as
    ``RECOMMENDER_UNRATED_AGE``)."""
    unrestricted: bool = False
    """An operator's question (``/ready``'s probe, the evaluations): no viewer's context
    applies, every film the catalog serves may answer. No request sets it."""
    k_cap: int = 0
    """A larger ``k`` than the settings' ``max_k`` that the caller allows (no request
    sets it: ``POST /users/{user}/rank`` orders up to 500 films given)."""

    def validate(self, max_k: int = 100) -> QueryOptions:
        if self.mode not in MODES:
            raise InvalidParameter(
                "mode", f"mode must be one of {', '.join(MODES)}, got {self.mode!r}"
            )
        max_k = max(max_k, self.k_cap)
        if not 1 <= self.k <= max_k:
            raise InvalidParameter("k", f"k must be an integer from 1 to {max_k}, got {self.k}")
        if self.offset < 0:
            raise InvalidParameter("offset", f"offset must be 0 or more, got {self.offset}")
        if self.offset + self.k > MAX_RESULT_WINDOW:
            raise InvalidParameter(
                "offset", f"offset + k may not exceed {MAX_RESULT_WINDOW} (the result window); "
                f"got {self.offset} + {self.k}. Narrow the query with filters instead of "
                "paging deeper.", max_result_window=MAX_RESULT_WINDOW)
        if not 0.0 <= self.diversity <= 1.0:
            raise InvalidParameter(
                "diversity", f"diversity must be a number from 0 to 1, got {self.diversity}")
        if self.min_score is not None and not math.isfinite(self.min_score):
            raise InvalidParameter("min_score", "min_score must be a finite number")
        if any(not g.strip() for g in self.genres):
            raise InvalidParameter("genres", "genres must be non-empty names")
        if self.max_age is not None and not 0 <= self.max_age <= MAX_AGE:
            raise InvalidParameter("max_age", f"max_age must be an integer from 0 to "
                                   f"{MAX_AGE}, got {self.max_age}")
        return self

    @classmethod
    def from_fields(cls, values: Mapping[str, Any], default_mode: str,
                    named: Mapping[str, Node] | None = None) -> QueryOptions:
        """Options from the fields of a parsed request (query string, body or flags):
        the one place they are assembled, so every surface means the same by them.

        Keys that aren't options are ignored; ``mode`` missing or None is ``default_mode``;
        ``named`` are the named filters an expression's ``@name`` may use.
        """
        given = {f.name: values[f.name] for f in fields(cls)
                 if f.name in values and values[f.name] is not None
                 and f.name not in ("filter_node", "k_cap", "unrestricted")}
        if "country" in given:
            try:
                given["country"] = check_country(given["country"])
            except FacetError as exc:
                raise InvalidParameter("country", exc.message) from None
        if "filter" in given:
            given["filter_node"] = compile_filter(given["filter"], named or {})
        for name in ("genres", "exclude"):
            if name in given:
                given[name] = tuple(given[name])
        if "diversity" in given:
            given["diversity"] = float(given["diversity"])
        given.setdefault("mode", default_mode)
        return cls(**given)

    @property
    def filtered(self) -> bool:
        """Whether the query's own filters (not its context) leave films out."""
        return bool(self.year_min is not None or self.year_max is not None or self.genres
                    or self.language or self.exclude or self.filter_node is not None)

    def echo(self) -> dict[str, Any]:
        d: dict[str, Any] = {"mode": self.mode, "k": self.k, "offset": self.offset}
        for name in ("year_min", "year_max", "language", "min_score", "filter", "country",
                     "max_age"):
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        if self.genres:
            d["genres"] = list(self.genres)
        if self.exclude:
            d["exclude"] = list(self.exclude)
        if self.diversity:
            d["diversity"] = self.diversity
        if self.explain:
            d["explain"] = True
        return d


def compile_filter(text: Any, named: Mapping[str, Node]) -> Node:
    """``text`` parsed, each ``@name`` replaced by the named filter's tree; 400 for an
    expression that doesn't parse or names a filter ``named`` doesn't hold."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidParameter("filter", "filter must be a non-empty expression, e.g. "
                               "kind = \"series\" and year >= 1990")

    def resolve(name: str) -> Node:
        if name not in named:
            raise InvalidParameter(
                "filter", f"@{name} is not a named filter; the rules define: "
                f"{', '.join('@' + n for n in sorted(named)) or 'none'}", named_filter=name)
        return named[name]

    return expand(parse(text), resolve)


@dataclass
class ScoredFilm:
    """A film in a result list. ``score`` is the mode's own score (docs/api.md);
    ``semantic`` (cosine) and ``lexical`` (BM25) are its parts, where computed."""

    film: Film
    score: float
    semantic: float | None = None
    lexical: float | None = None
    explanation: dict[str, Any] | None = None
    reasons: list[dict[str, Any]] | None = None
    """Why a per-viewer recommendation is there ("because you liked X", "trending")."""
    promoted: str | None = None
    """The rule that placed it (a promotion or a pin: docs/rules.md); None: organic."""

    def to_dict(self) -> dict[str, Any]:
        d = {**film_summary(self.film), "score": round(self.score, SCORE_DECIMALS),
             "genres": list(self.film.genres)}
        if self.film.image_url is not None:
            d["image_url"] = self.film.image_url
        parts = {name: round(value, SCORE_DECIMALS) for name, value in
                 (("semantic", self.semantic), ("lexical", self.lexical)) if value is not None}
        if parts:
            d["scores"] = parts
        if self.explanation is not None:
            d["explanation"] = self.explanation
        if self.reasons is not None:
            d["reasons"] = self.reasons
        if self.promoted is not None:
            d["promoted"] = self.promoted
        return d


@dataclass
class ResultPage:
    query: dict[str, Any]
    results: list[ScoredFilm]
    has_more: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "results": [r.to_dict() for r in self.results],
                "has_more": self.has_more, **self.extra}


def check_text(name: str, value: str, max_chars: int) -> str:
    """``value`` stripped, or a 400 naming ``name`` if it is empty or too long."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameter(name, f"{name} must be a non-empty string")
    value = value.strip()
    if len(value) > max_chars:
        raise InvalidParameter(
            name, f"{name} is {len(value)} characters long; the limit is {max_chars}",
            max_length=max_chars)
    return value


NEAREST = 3
"""Films an answer of "nothing close" names as the nearest, marked as far."""


def nothing_close(page: ResultPage, floor: float, mode: str) -> ResultPage:
    """``page`` as "nothing close" where no film on it is: none matched the query's words
    and the nearest one's cosine is under ``floor``. Its results move to ``nearest`` (the
    first few) and ``results`` is empty, so a client never shows the whole catalog as
    matches of gibberish; ``query.relevance_floor`` says where the line is. A ``lexical``
    answer holds only films its words match: all close."""
    if mode == "lexical" or floor <= 0 or not page.results or \
            any(r.lexical for r in page.results):
        return page
    best = max((r.semantic for r in page.results if r.semantic is not None), default=None)
    if best is None or best >= floor:
        return page
    page.query["relevance_floor"] = floor
    page.extra["nearest"] = [r.to_dict() for r in page.results[:NEAREST]]
    return ResultPage(page.query, [], False, page.extra)


def relevance_floor(index: FilmIndex, settings: Settings) -> float:
    """The cosine under which a free-text query is close to nothing: the setting, else
    what the index recorded of its model for its catalog's language, else the model's
    (0 for one outside the registry: no floor)."""
    if settings.relevance_floor is not None:
        return settings.relevance_floor
    language = index.lexical.analyzer.language
    recorded = (index.manifest.get("model_info") or {}).get("relevance_floors")
    if isinstance(recorded, dict):
        floor = recorded.get(language.lower(), recorded.get("*"))
        if isinstance(floor, int | float):
            return float(floor)
    return model_spec(index.model).relevance_floor(language)
