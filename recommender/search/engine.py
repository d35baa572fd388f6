"""The recommendation logic: a plain object over a loaded index, no HTTP.

Three questions, one pipeline (:meth:`Engine._rank`):

- :meth:`Engine.similar` / :meth:`Engine.similar_by_title`: films like one film;
- :meth:`Engine.search`: films matching a free-text description;
- :meth:`Engine.recommend`: films like several liked films, unlike disliked
  ones, optionally steered by text.

Each returns a :class:`ResultPage` that echoes what was understood. A title or
id reuses the film's stored vector, so only free text calls the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from recommender import budget
from recommender.catalog.facets import MaturityScale
from recommender.catalog.films import Film
from recommender.catalog.titles import Resolution, TitleResolver, film_summary
from recommender.config import Settings
from recommender.embedding.embedder import Embedder
from recommender.embedding.models import model_spec
from recommender.errors import (
    AmbiguousTitle,
    FilmNotAvailable,
    FilmNotFound,
    InvalidParameter,
    NothingToRecommendFrom,
    TitleNotFound,
)
from recommender.index.film_index import FilmIndex
from recommender.index.lexical import lexical_text
from recommender.search.filters import FilterMasks
from recommender.search.neighbours import NeighbourTable, open_or_compute, open_saved, table_spec
from recommender.search.pipeline import HYBRID_CANDIDATES, Ranker
from recommender.search.projection import CatalogMap
from recommender.search.query import (
    DEFAULT_K,
    DEFAULT_MODE,
    MODES,
    STRATEGIES,
    QueryOptions,
    ResultPage,
    ScoredFilm,
    check_text,
    nothing_close,
    relevance_floor,
)
from recommender.search.vectors import VectorQuery, preference_query, weighted_query

__all__ = ["DEFAULT_K", "DEFAULT_MODE", "MODES", "Engine", "QueryOptions", "ResultPage",
           "ScoredFilm"]

MAX_TERM_FILMS = 5
"""A weighted recommendation's words come from at most this many of the most liked films."""
Item = str | dict[str, Any]


Known = Callable[[str], bool]
"""Whether an id not served now is still a film (withdrawn, out of its window)."""


class Engine:
    """Similar films, search and recommendations over one loaded :class:`FilmIndex`.

    Args:
        index: the loaded index.
        embedder: the model for free-text queries, loaded on first use; it must
            be the model the index was built with.
        settings: limits and the hybrid fusion's parameters.
    """

    def __init__(self, index: FilmIndex, embedder: Embedder,
                 settings: Settings | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings or Settings()
        if self.settings.semantic_weight is None:  # the fusion tuned for the index's model
            self.settings = dataclasses.replace(
                self.settings, semantic_weight=model_spec(index.model).semantic_weight(
                    index.lexical.analyzer.language))
        self.titles = TitleResolver(index.films)
        index.check_compatible(model=embedder.name)
        self.scale = MaturityScale.once(self.settings.maturity_scale)
        self.filters = FilterMasks(index, self.scale, self.settings.unrated_age)
        self.ranker = Ranker(index, self.settings, self.filters)
        self.neighbours: NeighbourTable | None = None
        self._map: CatalogMap | None = None

    def catalog_map(self) -> CatalogMap:
        """The films on the plane (:mod:`recommender.search.projection`), computed once."""
        if self._map is None:  # two threads may both compute it once: same answer
            self._map = CatalogMap.compute(self.index)
        return self._map

    def precompute_similar(self, *, compute: bool = True) -> bool:
        """Have every film's "more like this" list (:mod:`recommender.search.neighbours`), for the
        default mode, if the catalog is within ``similar_table_max_films``: mapped from the
        version folder where a process saved it, else (with ``compute``) computed and
        saved there. Returns whether the engine has its table now.

        A server does this once per loaded version; one-off users (the CLI) don't.
        """
        spec = self._table()
        if spec is None:
            return False
        key, depth = spec
        if self.neighbours is not None:
            return True
        saved = open_saved(self.index.path, key, self.index.films)
        if saved is None and compute:
            mode = self.settings.search_mode
            saved = open_or_compute(
                self.index.path, key, self.index.films,
                lambda: NeighbourTable.compute(self.index.films, self.index.row_of,
                                               self._similar_ranked, mode, depth))
        self.neighbours = saved
        return saved is not None

    @property
    def wants_table(self) -> bool:
        """Whether this engine's catalog gets a "more like this" table."""
        return self._table() is not None

    def _table(self) -> tuple[str, int] | None:
        if self.index.overlay is not None:  # rows of the moment: the pipeline answers
            return None
        return table_spec(len(self.index), self.settings, HYBRID_CANDIDATES)

    # -- the catalog -------------------------------------------------------------

    def film(self, film_id: str, options: QueryOptions | None = None) -> Film:
        """The film; with ``options``, where its context may see it (else a 404 why)."""
        row = self.index.row_of.get(film_id)
        if row is None:
            raise FilmNotFound(film_id)
        reason = None if options is None or options.unrestricted else \
            self.filters.why_not(row, options.country, options.max_age)
        if reason is not None:
            raise FilmNotAvailable(film_id, reason)
        return self.index.films[row]

    def films(self, offset: int = 0, limit: int = 20,
              options: QueryOptions | None = None) -> tuple[int, list[Film]]:
        return self.filters.page(offset, limit, options)  # the films allowed, counted

    def resolve_item(self, item: Item,
                     parameter: str = "positive") -> tuple[Film, Resolution | None]:
        """A film named by a title (``"Rocky"``), ``{"id": ...}`` or ``{"title", "year"}``."""
        if isinstance(item, str):
            resolution = self.titles.resolve(check_text(parameter, item,
                                                              self.settings.max_title_chars))
            return resolution.film, resolution
        if isinstance(item, dict) and set(item) <= {"id", "title", "year"}:
            if isinstance(item.get("id"), str) and set(item) == {"id"}:
                return self.film(item["id"]), None
            year = item.get("year")
            if isinstance(item.get("title"), str) and "id" not in item and (
                    year is None or (isinstance(year, int) and not isinstance(year, bool))):
                title = check_text(parameter, item["title"], self.settings.max_title_chars)
                resolution = self.titles.resolve(title, year)
                return resolution.film, resolution
        raise InvalidParameter(
            parameter, f"each item of {parameter} must be a title (string), {{\"id\": str}} "
            f"or {{\"title\": str, \"year\": int}}; got {str(item)[:80]}")

    # -- queries -------------------------------------------------------------------

    def similar(self, film_id: str, options: QueryOptions | None = None) -> ResultPage:
        """The films most like the film ``film_id``; never the film itself."""
        options = (options or QueryOptions()).validate(self.settings.max_k)
        film = self.film(film_id, options)
        row = self.index.row_of[film.id]
        table = self.neighbours
        open_to_all = options.unrestricted or \
            self.filters.context(options.country, options.max_age) is None
        results, more = table.page(row, options) if table is not None and open_to_all and \
            table.answers(options) else self._similar_ranked(row, options)
        return ResultPage({"id": film.id, "resolved": film_summary(film), **options.echo(),
                           **_unknown_excludes(self.index, options)}, results, more)

    def _similar_ranked(self, row: int, options: QueryOptions) -> tuple[list[ScoredFilm], bool]:
        """The pipeline's answer to "films like the film at ``row``"."""
        terms = [] if options.mode == "semantic" else self._terms_of([row])
        semantic = VectorQuery(self.index, lambda: self.index.vector(row))
        return self.ranker.rank(semantic, terms, options, exclude_rows={row}, liked_rows=[row])

    def similar_by_title(self, title: str, year: int | None = None,
                         options: QueryOptions | None = None) -> ResultPage:
        """Like :meth:`similar`, the film named by its title (catalog/titles.py)."""
        title = check_text("title", title, self.settings.max_title_chars)
        options = (options or QueryOptions()).validate(self.settings.max_k)  # before a lookup
        resolution = _resolve_in_context(self, title, year, options)
        page = self.similar(resolution.film.id, options)
        page.query = {"title": title, **({"year": year} if year is not None else {}),
                      "resolved": film_summary(resolution.film), **resolution.to_dict(),
                      **{k: v for k, v in page.query.items() if k not in ("id", "resolved")}}
        return page

    def search(self, text: str, options: QueryOptions | None = None) -> ResultPage:
        """The films whose synopsis best matches a free-text description."""
        options = (options or QueryOptions()).validate(self.settings.max_k)
        text = check_text("q", text, self.settings.max_query_chars)
        terms = [] if options.mode == "semantic" else \
            self.index.lexical.analyzer.query_terms(text)
        semantic = VectorQuery(self.index, lambda: self._embed(text))
        results, more = self.ranker.rank(semantic, terms, options, query_text=text)
        page = ResultPage({"q": text, **options.echo(), **_unknown_excludes(self.index, options)},
                          results, more)
        return nothing_close(page, relevance_floor(self.index, self.settings), options.mode)

    def recommend(self, positive: Sequence[Item] = (), negative: Sequence[Item] = (),
                  query: str | None = None, strategy: str = "average",
                  options: QueryOptions | None = None) -> ResultPage:
        """Films like the ``positive`` ones, unlike the ``negative`` ones, steered by ``query``.

        Strategies: ``average`` moves one query vector toward the liked films and
        away from the disliked ones (``2 * mean(liked) - mean(disliked)``);
        ``best_score`` scores each film by its best similarity to a liked film
        minus its best similarity to a disliked one. Query text counts as one
        more liked item. Items that don't resolve are listed under
        ``query.unresolved``; only when nothing usable remains is it a 404.
        """
        options = (options or QueryOptions()).validate(self.settings.max_k)
        if strategy not in STRATEGIES:
            raise InvalidParameter(
                "strategy", f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
        if query is not None:
            query = check_text("query", query, self.settings.max_query_chars)
        liked: list[tuple[Film, Resolution | None]] = []
        disliked: list[tuple[Film, Resolution | None]] = []
        unresolved: list[dict[str, Any]] = []
        for name, items, out in (("positive", positive, liked), ("negative", negative, disliked)):
            for i, item in enumerate(items):
                budget.check("resolving liked and disliked films")
                try:
                    film, resolution = self.resolve_item(item, name)
                    self.film(film.id, options)  # one the viewer may not see: not theirs
                except (TitleNotFound, AmbiguousTitle, FilmNotFound, FilmNotAvailable) as exc:
                    unresolved.append({"list": name, "index": i, "item": item, **exc.to_dict()})
                    continue
                out.append((film, resolution))
        if not liked and not query:
            raise NothingToRecommendFrom(unresolved)
        liked_rows = list(dict.fromkeys(self.index.row_of[f.id] for f, _ in liked))
        disliked_rows = list(dict.fromkeys(self.index.row_of[f.id] for f, _ in disliked))

        terms: list[str] = []
        if options.mode != "semantic":
            terms = self._terms_of(liked_rows)
            if query:
                terms += self.index.lexical.analyzer.query_terms(query)
        semantic = preference_query(self.index, liked_rows, disliked_rows,
                                    self._embed if query else None, query, strategy)
        results, more = self.ranker.rank(semantic, terms, options,
                                   exclude_rows=set(liked_rows) | set(disliked_rows),
                                   liked_rows=liked_rows, query_text=query)

        def echo(pairs: list[tuple[Film, Resolution | None]]) -> list[dict[str, Any]]:
            return [{**film_summary(f), **(r.to_dict() if r else {"match": "id"})}
                    for f, r in pairs]

        echoed: dict[str, Any] = {"positive": echo(liked), "negative": echo(disliked)}
        if query:
            echoed["query"] = query
        echoed |= {"strategy": strategy, **options.echo(), **_unknown_excludes(self.index, options),
                   "unresolved": unresolved}
        return ResultPage(echoed, results, more)

    def recommend_weighted(self, liked: Mapping[str, float],
                           disliked: Mapping[str, float] = MappingProxyType({}),
                           options: QueryOptions | None = None,
                           exclude: Sequence[str] = ()) -> ResultPage:
        """Films like the ``liked`` ids, unlike the ``disliked`` ones, each counting by its
        weight (> 0): a viewer's history as :mod:`recommender.viewers.personal` weighs it.

        The query vector is ``2 * wmean(liked) - wmean(disliked)`` (weighted means; the
        ``average`` strategy of :meth:`recommend` with weights); the words are the most
        liked films' distinctive terms. ``exclude`` ids never come back (seen films).
        """
        options = (options or QueryOptions()).validate(self.settings.max_k)
        liked_rows = [self.index.row_of[f] for f in liked if f in self.index.row_of]
        if not liked_rows:
            raise NothingToRecommendFrom([])
        liked_w = np.array([liked[self.index.films[r].id] for r in liked_rows])
        disliked_rows = [self.index.row_of[f] for f in disliked if f in self.index.row_of]
        disliked_w = np.array([disliked[self.index.films[r].id] for r in disliked_rows])

        strongest = [liked_rows[i] for i in np.argsort(-liked_w, kind="stable")[:MAX_TERM_FILMS]]
        terms = self._terms_of(strongest) if options.mode != "semantic" else []
        excluded = {self.index.row_of[f] for f in exclude if f in self.index.row_of}
        semantic = weighted_query(self.index, liked_rows, liked_w, disliked_rows, disliked_w)
        results, more = self.ranker.rank(
            semantic, terms, options, liked_rows=strongest,
            exclude_rows=excluded | set(liked_rows) | set(disliked_rows))
        return ResultPage({"liked": len(liked_rows), "disliked": len(disliked_rows),
                           **options.echo()}, results, more)

    # -- the pipeline --------------------------------------------------------------

    def _terms_of(self, rows: Sequence[int]) -> list[str]:
        """The words that query for films like ``rows``: each one's most distinctive."""
        terms: list[str] = []
        for row in rows:  # its own words, not its people's names
            text = lexical_text(self.index.films[row], people=False)
            terms += self.index.lexical.distinctive_terms(text)
        return terms

    def _embed(self, text: str) -> np.ndarray:
        vector = self.embedder.encode_query(text)
        self.index.check_compatible(dimension=vector.shape[0])
        return vector



def _resolve_in_context(engine: Engine, title: str, year: int | None,
                        options: QueryOptions) -> Resolution:
    """The film a title names, its "did you mean" suggestions and an ambiguous title's
    candidates only among the films the context may see: a kids profile is never offered
    an adult film's title."""
    def visible(found: dict[str, Any]) -> bool:
        row = engine.index.row_of.get(found.get("id", ""))
        return row is not None and engine.filters.why_not(
            row, options.country, options.max_age) is None
    try:
        return engine.titles.resolve(title, year)
    except TitleNotFound as exc:
        raise TitleNotFound(title, [s for s in exc.suggestions if visible(s)]) from None
    except AmbiguousTitle as exc:
        seen = [c for c in exc.candidates if visible(c)]
        if len(seen) == 1:
            return engine.titles.resolve(title, seen[0]["year"])
        if not seen:
            raise TitleNotFound(title, []) from None
        raise AmbiguousTitle(title, seen) from None


def _unknown_excludes(index: FilmIndex, options: QueryOptions) -> dict[str, Any]:
    unknown = [i for i in options.exclude if i not in index.row_of]
    return {"exclude_unknown": unknown} if unknown else {}


def film_for_data(engine: Engine, item: Item, known: Known | None = None,
                  parameter: str = "film", tally: dict[str, int] | None = None) -> str:
    """The id of the film a record names (an event, an import's line); ``tally`` counts
    how it was found (``"id"``, ``"title"``). Data is never guessed: a string that is
    a film's id is that film (``known`` says which ids not served now still exist: a
    film withdrawn or out of its window, whose history is kept); otherwise a title
    must name exactly one film (normalised: case, punctuation, numerals), and a near
    miss is refused with candidates instead of attached to another film.
    """
    film_id, how = _film_for_data(engine, item, known or (lambda _: False), parameter)
    if tally is not None:
        tally[how] = tally.get(how, 0) + 1
    return film_id

def _film_for_data(engine: Engine, item: Item, known: Known,
                   parameter: str) -> tuple[str, str]:
    if isinstance(item, dict) and set(item) == {"id"} and isinstance(item["id"], str):
        if item["id"] in engine.index.row_of or known(item["id"]):
            return item["id"], "id"
        raise FilmNotFound(item["id"])
    if isinstance(item, str):
        text = check_text(parameter, item, engine.settings.max_title_chars)
        if text in engine.index.row_of or known(text):
            return text, "id"
        return engine.titles.resolve(text, exact=True).film.id, "title"
    if isinstance(item, dict) and isinstance(item.get("title"), str) and \
            set(item) <= {"title", "year"} and (item.get("year") is None or (
                isinstance(item["year"], int) and not isinstance(item["year"], bool))):
        title = check_text(parameter, item["title"], engine.settings.max_title_chars)
        return engine.titles.resolve(title, item.get("year"), exact=True).film.id, "title"
    raise InvalidParameter(
        parameter, f"{parameter} must be a film id or title (string), {{\"id\": str}} "
        f"or {{\"title\": str, \"year\": int}}; got {str(item)[:80]}")
