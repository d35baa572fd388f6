"""The service's rules: named filters, promotions, pins and boosts, from one JSON file
(``RECOMMENDER_RULES``)::

    {"filters": {"originals": "attributes.original"},
     "promote": [{"name": "originals-first", "surface": "user_recommendations",
                  "filter": "@originals", "places": 2, "of_first": 10}],
     "pin": [{"name": "weekend", "surface": "user_recommendations", "film": "rocky-1976",
              "place": 1, "from": "2026-12-05T00:00:00Z", "until": "2026-12-07T23:59:59Z"}],
     "boost": [{"name": "danish", "filter": "language = \\"da\\"", "factor": 1.5}]}

A rule never shows a film the request's context or filters forbid: each works on
candidates that already passed :meth:`~recommender.search.filters.FilterMasks.allowed`.
A promoted or pinned film carries ``"promoted": "<rule name>"``, in the answer and in its
impression. A file that is missing, not JSON or wrong is refused with its line and field,
as the experiments file is (:mod:`recommender.viewers.experiments`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from recommender.catalog.moments import parse_moment
from recommender.errors import InvalidParameter
from recommender.search.expressions import Node, expand, named_filters, parse
from recommender.viewers.experiments import field_path, line_of, read_checked
from recommender.viewers.surfaces import Surface

NAME = r"^[A-Za-z0-9_.-]+$"


class Promote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=NAME)
    surface: Surface
    filter: str = Field(min_length=1, max_length=2000)
    places: int = Field(ge=1, le=50)
    """How many of the first ``of_first`` places the matching films take (at most)."""
    of_first: int = Field(ge=1, le=100)


class Pin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=NAME)
    surface: Surface
    film: str = Field(min_length=1, max_length=200)
    place: int = Field(ge=1, le=100)
    """1: the first place."""
    start: str | None = Field(None, alias="from")
    until: str | None = None

    @field_validator("start", "until")
    @classmethod
    def _moment(cls, value: str | None) -> str | None:
        return None if value is None else parse_moment(value)


class Boost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=NAME)
    filter: str = Field(min_length=1, max_length=2000)
    factor: float = Field(gt=0, le=100)
    surfaces: list[Surface] | None = None
    """None: every surface."""


class RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filters: dict[str, str] = Field(default_factory=dict)
    promote: list[Promote] = Field(default_factory=list)
    pin: list[Pin] = Field(default_factory=list)
    boost: list[Boost] = Field(default_factory=list)


class RulesError(ValueError):
    """The rules file can't be used; the message names the file, line and field."""


class Rules:
    """The rules of one file, checked and compiled."""

    def __init__(self, data: RulesFile | None = None, source: str = "") -> None:
        self.data = data or RulesFile()
        self.source = source
        self.named: dict[str, Node] = {name: parse(text)
                                       for name, text in self.data.filters.items()}
        self.promotions: list[tuple[Promote, Node]] = [
            (p, self.compile(p.filter)) for p in self.data.promote]
        self.boosts: list[tuple[Boost, Node]] = [
            (b, self.compile(b.filter)) for b in self.data.boost]

    def compile(self, text: str) -> Node:
        def resolve(name: str) -> Node:
            if name not in self.named:
                raise InvalidParameter("filter", f"@{name} is not a named filter; the rules "
                                       f"define: {', '.join(sorted(self.named)) or 'none'}")
            return self.named[name]
        return expand(parse(text), resolve)

    def promotions_of(self, surface: Surface) -> list[tuple[Promote, Node]]:
        return [(p, node) for p, node in self.promotions if p.surface == surface]

    def pins_of(self, surface: Surface, now: float) -> list[Pin]:
        """The pins of ``surface`` in their window at ``now``."""
        return [p for p in self.data.pin if p.surface == surface
                and (p.start is None or _seconds(p.start) <= now)
                and (p.until is None or now < _seconds(p.until))]

    def boosts_of(self, surface: Surface) -> list[tuple[Boost, Node]]:
        return [(b, node) for b, node in self.boosts
                if b.surfaces is None or surface in b.surfaces]

    def to_dict(self) -> dict[str, Any]:
        """What ``/admin/status`` shows: the rules in force."""
        return {"source": self.source or None,
                **self.data.model_dump(mode="json", by_alias=True, exclude_none=True)}


def _seconds(moment: str) -> float:
    return datetime.fromisoformat(moment).timestamp()


def load_rules(path: str | Path) -> Rules:
    """The rules of ``path``, checked whole (each expression parsed, each ``@name``
    defined).

    Raises:
        RulesError: missing, unreadable, not JSON, or a field wrong (line and field named).
    """
    where = Path(path)
    parsed, text = read_checked(where, "RECOMMENDER_RULES", RulesFile, RulesError)

    def refuse(loc: list[Any], why: str) -> RulesError:
        return RulesError(f"RECOMMENDER_RULES: {where} line {line_of(text, loc)}, "
                          f"{field_path(loc)}: {why}")

    for name, expression in parsed.filters.items():
        try:
            node = parse(expression)
        except InvalidParameter as exc:
            raise refuse(["filters", name], exc.message) from None
        if named_filters(node):
            raise refuse(["filters", name], "a named filter may not use another (@...)")
    names: set[str] = set()
    for kind in ("promote", "pin", "boost"):
        for i, rule in enumerate(getattr(parsed, kind)):
            if rule.name in names:
                raise refuse([kind, i, "name"], f"{rule.name!r} names two rules")
            names.add(rule.name)
            if kind == "pin":
                if rule.start and rule.until and rule.start >= rule.until:
                    raise refuse([kind, i, "until"], "until must be after from")
                continue
            try:
                node = parse(rule.filter)
            except InvalidParameter as exc:
                raise refuse([kind, i, "filter"], exc.message) from None
            missing = named_filters(node) - set(parsed.filters)
            if missing:
                raise refuse([kind, i, "filter"], f"@{sorted(missing)[0]} is not a named "
                             "filter of this file")
            if kind == "promote" and rule.places > rule.of_first:
                raise refuse([kind, i, "places"], "places must be at most of_first")
    return Rules(parsed, str(where))

