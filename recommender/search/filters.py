"""Which films a query may return: the viewer's context (territory at this moment,
maturity), the filter expression and the query's own filters, as one boolean mask over
the index's rows.

The mask goes into the search itself (:meth:`recommender.index.film_index.FilmIndex.search`), so
``k`` films come back whenever ``k`` films pass, rather than a post-filtered short list.
Every route takes its candidates through :meth:`FilterMasks.allowed`: the one place the
rules of what may be shown are kept. The columns are laid out once per loaded index (the
live catalog makes a new index for each state of its changes), so a request does array
operations, never a Python loop over the films.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from recommender.catalog.facets import MaturityScale
from recommender.catalog.films import Film
from recommender.errors import InvalidParameter
from recommender.index.film_index import FilmIndex
from recommender.search.expressions import Field, Node
from recommender.search.query import MAX_LIST_LIMIT, QueryOptions

MASK_CACHE = 32
"""Expressions' masks kept per loaded index (a mask is a byte a film)."""


class Column:
    """One field over the rows: numbers (NaN where missing), codes of strings (-1 where
    missing) and, for lists, each value's rows."""

    def __init__(self, values: list[Any], name: str) -> None:
        self.name = name
        n = len(values)
        self.kinds = {_kind(v) for v in values if v is not None}
        self.numbers = np.full(n, np.nan)
        self.codes = np.full(n, -1, dtype=np.int32)
        self.vocabulary: dict[str, int] = {}
        self.members: dict[str, np.ndarray] = {}
        members: dict[str, list[int]] = defaultdict(list)
        for row, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, bool):
                self.numbers[row] = float(value)
            elif isinstance(value, int | float):
                self.numbers[row] = value
            elif isinstance(value, str):
                self.codes[row] = self.vocabulary.setdefault(value.casefold(),
                                                             len(self.vocabulary))
            else:
                for item in value:
                    members[item.casefold()].append(row)
        self.members = {k: np.array(v, dtype=np.int64) for k, v in members.items()}

    def check(self, kinds: Iterable[str], what: str) -> None:
        if self.kinds and not self.kinds & set(kinds):
            held = " and ".join(sorted(self.kinds))
            raise InvalidParameter("filter", f"{self.name} holds {held}; {what}",
                                   field_name=self.name)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "booleans"
    if isinstance(value, int | float):
        return "numbers"
    return "strings" if isinstance(value, str) else "lists"


class FilterMasks:
    """The per-film fields filters look at, laid out once per loaded index."""

    def __init__(self, index: FilmIndex, scale: MaturityScale | None = None,
                 unrated_age: int = 18) -> None:
        self.index = index
        films = index.films
        n = len(films)
        self._genres = Column([f.genres for f in films], "genres")
        self._languages = np.array([f.language or "" for f in films])
        scale = scale or MaturityScale.load(None)
        ages = [scale.age(f.maturity) for f in films]
        self.ages = np.array([unrated_age if a is None else a for a in ages], dtype=np.int16)
        # where each film may be shown: no list is everywhere; a list, its entries' windows
        self.everywhere = np.array([f.territories is None for f in films], dtype=bool)
        entries: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
        for row, film in enumerate(films):
            for territory in film.territories or ():
                entries[territory.country].append((row, *territory.window()))
        self.territories = {country: (np.array([e[0] for e in rows], dtype=np.int64),
                                      np.array([e[1] for e in rows]),
                                      np.array([e[2] for e in rows]))
                            for country, rows in entries.items()}
        self.restricted = not bool(self.everywhere.all()) if n else False
        self.everywhere.flags.writeable = False
        self._by_country: dict[str, tuple[float, float, np.ndarray]] = {}
        self._columns: dict[str, Column] = {}
        self._attribute_names = frozenset(k for f in films for k in f.attributes)
        self._masks: OrderedDict[Node, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    # -- the one mask ---------------------------------------------------------------

    def allowed(self, options: QueryOptions, exclude_rows: set[int],
                now: float | None = None) -> np.ndarray | None:
        """The rows ``options`` allows (its context at ``now``, its expression, its
        filters), minus ``exclude_rows``; None: every row."""
        mask = None if options.unrestricted else \
            self.context(options.country, options.max_age, now)
        if not options.filtered and not exclude_rows:
            return mask
        mask = np.ones(len(self.index), dtype=bool) if mask is None else mask.copy()
        years = self.index.years
        # Films without a year can't be said to fall in a year range: left out.
        if options.year_min is not None:
            mask &= years >= options.year_min
        if options.year_max is not None:
            mask &= years <= options.year_max
        if options.genres:
            wanted = np.zeros(len(mask), dtype=bool)
            for genre in options.genres:
                wanted[self._genres.members.get(genre.casefold(), _NONE)] = True
            mask &= wanted
        if options.language:
            mask &= self._languages == options.language.lower()
        if options.filter_node is not None:
            mask &= self.expression(options.filter_node)
        for film_id in options.exclude:
            row = self.index.row_of.get(film_id)
            if row is not None:
                mask[row] = False
        for row in exclude_rows:
            mask[row] = False
        return mask

    def page(self, offset: int, limit: int,
             options: QueryOptions | None) -> tuple[int, list[Film]]:
        """``GET /films``: a page of the films ``options`` allow, in the catalog's order,
        and how many they are."""
        if offset < 0:
            raise InvalidParameter("offset", f"offset must be 0 or more, got {offset}")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidParameter(
                "limit", f"limit must be from 1 to {MAX_LIST_LIMIT}, got {limit}")
        films = self.index.films
        allowed = None if options is None else self.allowed(options, set())
        if allowed is None:
            return len(films), films[offset:offset + limit]
        rows = np.flatnonzero(allowed)
        return len(rows), [films[r] for r in rows[offset:offset + limit]]

    def context(self, country: str | None, max_age: int | None,
                now: float | None = None) -> np.ndarray | None:
        """The rows a viewer in ``country`` (None: none known) of ``max_age`` may see at
        ``now``; None: every row. Without a country, only the films without a territory
        list: never one licensed somewhere else."""
        mask: np.ndarray | None = None
        if self.restricted:
            mask = self.everywhere
            if country is not None and country in self.territories:
                mask = self._licensed(country, time.time() if now is None else now)
        if max_age is not None:
            old_enough = self.ages <= max_age
            if not old_enough.all():
                mask = old_enough if mask is None else mask & old_enough
        return mask

    def _licensed(self, country: str, at: float) -> np.ndarray:
        """The rows licensed in ``country`` at ``at`` (read-only), kept until the next edge
        of one of its windows: at a million films a request then reads it, never makes it."""
        kept = self._by_country.get(country)
        if kept is not None and kept[0] <= at < kept[1]:
            return kept[2]
        rows, starts, ends = self.territories[country]
        mask = self.everywhere.copy()
        mask[rows[(starts <= at) & (at < ends)]] = True
        mask.flags.writeable = False
        edges = np.concatenate([starts, ends])
        after, before = edges[edges > at], edges[edges <= at]
        self._by_country[country] = (float(before.max()) if len(before) else -np.inf,
                                     float(after.min()) if len(after) else np.inf, mask)
        return mask

    def why_not(self, row: int, country: str | None, max_age: int | None,
                now: float | None = None) -> str | None:
        """Why the film at ``row`` is outside a context ("territory", "maturity"); None:
        it is inside."""
        mask = self.context(country, None, now)
        if mask is not None and not mask[row]:
            return "territory"
        if max_age is not None and self.ages[row] > max_age:
            return "maturity"
        return None

    # -- expressions ----------------------------------------------------------------

    def expression(self, node: Node) -> np.ndarray:
        """The rows where ``node`` holds; computed once per expression and kept (LRU)."""
        with self._lock:
            mask = self._masks.get(node)
            if mask is not None:
                self._masks.move_to_end(node)
                return mask
        mask = self._evaluate(node)
        mask.flags.writeable = False
        with self._lock:
            self._masks[node] = mask
            while len(self._masks) > MASK_CACHE:
                self._masks.popitem(last=False)
        return mask

    def _evaluate(self, node: Node) -> np.ndarray:
        op, args = node.op, node.args
        if op == "and":
            out = self._evaluate(args[0])
            for arg in args[1:]:
                out = out & self._evaluate(arg)
            return out
        if op == "or":
            out = self._evaluate(args[0])
            for arg in args[1:]:
                out = out | self._evaluate(arg)
            return out
        if op == "not":
            return ~self._evaluate(args[0])
        if op == "named":
            raise InvalidParameter("filter", f"@{args[0]} is not a named filter here")
        column = self.column(args[0])
        if op == "truthy":
            column.check(("booleans", "numbers", "strings", "lists"), "")
            present = (column.codes >= 0) | _nonempty(column, len(self.index))
            return present | (~np.isnan(column.numbers) & (column.numbers != 0))
        if op == "has":
            return self._equal(column, args[1], lists=True)
        if op == "in":
            values = args[1]
            if values and all(isinstance(v, str) for v in values):  # one pass for 500 ids
                column.check(("strings", "lists"), "compare it with \"strings\"")
                codes = [c for v in values if (c := column.vocabulary.get(v.casefold()))
                         is not None]
                out = np.isin(column.codes, codes)
                for value in values:
                    out[column.members.get(value.casefold(), _NONE)] = True
                return out
            out = np.zeros(len(self.index), dtype=bool)
            for value in values:
                out |= self._equal(column, value, lists=True)
            return out
        field, operator, value = args
        if operator in ("=", "!="):
            equal = self._equal(column, value, lists=True)
            if operator == "=":
                return equal
            return ~equal & ~self._missing(column)
        if isinstance(value, bool) or not isinstance(value, float):
            raise InvalidParameter("filter", f"{field} {operator} needs a number, got "
                                   f"{value!r}")
        column.check(("numbers",), f"{operator} compares numbers")
        numbers = column.numbers
        with np.errstate(invalid="ignore"):  # a missing value (NaN) is in no range
            return {"<": numbers < value, "<=": numbers <= value, ">": numbers > value,
                    ">=": numbers >= value}[operator]

    def _equal(self, column: Column, value: Any, lists: bool) -> np.ndarray:
        n = len(self.index)
        if isinstance(value, bool):
            column.check(("booleans",), "compare it with true or false")
            return column.numbers == float(value)
        if isinstance(value, float):
            column.check(("numbers",), "compare it with a number")
            return column.numbers == value
        column.check(("strings", "lists"), "compare it with a \"string\"")
        out = np.zeros(n, dtype=bool)
        code = column.vocabulary.get(value.casefold())
        if code is not None:
            out |= column.codes == code
        if lists:
            out[column.members.get(value.casefold(), _NONE)] = True
        return out

    def _missing(self, column: Column) -> np.ndarray:
        return (column.codes < 0) & np.isnan(column.numbers) & \
            ~_nonempty(column, len(self.index))

    def column(self, field: Field) -> Column:
        """The values of ``field`` over the rows, laid out on first use."""
        key = str(field)
        with self._lock:
            known = self._columns.get(key)
        if known is not None:
            return known
        films = self.index.films
        if field.name == "attributes":
            assert field.key is not None
            if field.key not in self._attribute_names:
                known_names = ", ".join(sorted(self._attribute_names)[:20]) or "none"
                raise InvalidParameter("filter", f"unknown attribute {field.key!r}; the "
                                       f"catalog's films have: {known_names}",
                                       field_name=key)
            values: list[Any] = [f.attributes.get(field.key) for f in films]
        elif field.name == "people":
            values = [tuple(p.name for p in f.people
                            if field.key is None or p.role == field.key) for f in films]
        elif field.name == "genres":
            values = [f.genres for f in films]
        elif field.name == "age":
            values = [float(a) for a in self.ages]
        elif field.name == "year":
            values = [None if f.year is None else float(f.year) for f in films]
        else:
            values = [getattr(f, field.name) for f in films]
        column = Column(values, key)
        with self._lock:
            self._columns[key] = column
        return column


_NONE = np.zeros(0, dtype=np.int64)


def _nonempty(column: Column, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    for rows in column.members.values():
        out[rows] = True
    return out
