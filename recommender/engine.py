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

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

from recommender import budget
from recommender.catalog import Film
from recommender.config import Settings
from recommender.embedding import Embedder
from recommender.errors import (
    AmbiguousTitle,
    FilmNotFound,
    InvalidParameter,
    NothingToRecommendFrom,
    TitleNotFound,
)
from recommender.explain import explain
from recommender.filters import FilterMasks
from recommender.index import FilmIndex
from recommender.lexical import lexical_text
from recommender.neighbours import NeighbourTable, open_or_compute, open_saved, table_key
from recommender.projection import CatalogMap
from recommender.query import (
    DEFAULT_K,
    DEFAULT_MODE,
    MAX_LIST_LIMIT,
    MODES,
    STRATEGIES,
    QueryOptions,
    ResultPage,
    ScoredFilm,
    check_text,
)
from recommender.ranking import maximal_marginal_relevance, reciprocal_rank_fusion, top_k
from recommender.titles import Resolution, TitleResolver, film_summary

__all__ = ["DEFAULT_K", "DEFAULT_MODE", "MODES", "Engine", "QueryOptions", "ResultPage",
           "ScoredFilm"]

HYBRID_CANDIDATES = 100
"""Candidates each ranking contributes to a hybrid fusion (at least; more for deep pages)."""
DIVERSITY_POOL = 30
"""Least number of candidates that diversity re-ranks (three times the page's depth for
deep pages; with ``offset + k`` at most 1,000, at most 3,000)."""
MAX_TERM_FILMS = 5
"""A weighted recommendation's words come from at most this many of the most liked films."""
Item = str | dict[str, Any]


class _Semantic(Protocol):
    """The vector side of a query: its best rows, and any row's score."""

    def search(self, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]: ...

    def scores(self, rows: Sequence[int]) -> np.ndarray: ...


class _VectorQuery:
    """Cosine similarity to one query vector, computed on first use."""

    def __init__(self, index: FilmIndex, make_vector: Callable[[], np.ndarray]) -> None:
        self.index = index
        self._make = make_vector
        self._vector: np.ndarray | None = None

    @property
    def vector(self) -> np.ndarray:
        if self._vector is None:
            self._vector = self._make()
        return self._vector

    def search(self, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        return self.index.search(self.vector, depth, allowed)

    def scores(self, rows: Sequence[int]) -> np.ndarray:
        return self.index.vectors(rows) @ self.vector


class _BestScoreQuery:
    """Each film scored by its best similarity to a liked vector minus its best
    similarity to a disliked one. The liked vectors (a model call, where query text
    is one of them) are made on first use."""

    def __init__(self, index: FilmIndex, make_liked: Callable[[], list[np.ndarray]],
                 disliked: np.ndarray) -> None:
        self.index = index
        self._make_liked = make_liked
        self._liked: np.ndarray | None = None
        self.disliked = disliked

    @property
    def liked(self) -> np.ndarray:
        if self._liked is None:
            self._liked = np.stack(self._make_liked())
        return self._liked

    def scores(self, rows: Sequence[int]) -> np.ndarray:
        vectors = self.index.vectors(rows)
        scores = (vectors @ self.liked.T).max(axis=1)
        if len(self.disliked):
            scores -= (vectors @ self.disliked.T).max(axis=1)
        return scores

    def search(self, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        # A film's best liked similarity puts it in that liked film's own top list,
        # so the union of those lists holds the best films (exact when depth >= n).
        candidates = sorted(
            {r for v in self.liked for r, _ in self.index.search(v, depth, allowed)})
        if not candidates:
            return []
        return [(candidates[i], s) for i, s in top_k(self.scores(candidates), depth)]


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
        self.titles = TitleResolver(index.films)
        index.check_compatible(model=embedder.name)
        self.filters = FilterMasks(index)
        self.neighbours: NeighbourTable | None = None
        self._map: CatalogMap | None = None

    def catalog_map(self) -> CatalogMap:
        """The films on the plane (:mod:`recommender.projection`), computed once."""
        if self._map is None:  # two threads may both compute it once: same answer
            self._map = CatalogMap.compute(self.index)
        return self._map

    def precompute_similar(self, *, compute: bool = True) -> bool:
        """Have every film's "more like this" list (:mod:`recommender.neighbours`), for the
        default mode, if the catalog is within ``similar_table_max_films``: mapped from the
        version folder where a process saved it, else (with ``compute``) computed and
        saved there. Returns whether the engine has its table now.

        A server does this once per loaded version; one-off users (the CLI) don't.
        """
        key = self._table_key()
        if key is None:
            return False
        if self.neighbours is not None:
            return True
        saved = open_saved(self.index.path, key, self.index.films)
        if saved is None and compute:
            mode, depth = self.settings.search_mode, self._table_depth()
            saved = open_or_compute(
                self.index.path, key, self.index.films,
                lambda: NeighbourTable.compute(self.index.films, self.index.row_of,
                                               self._similar_ranked, mode, depth))
        self.neighbours = saved
        return saved is not None

    @property
    def wants_table(self) -> bool:
        """Whether this engine's catalog gets a "more like this" table."""
        return self._table_key() is not None

    def _table_depth(self) -> int:
        # A page reaching past HYBRID_CANDIDATES fuses deeper lists (other scores), so
        # the table stops one short of it: every page it answers is the pipeline's.
        return min(self.settings.max_k, HYBRID_CANDIDATES - 1, len(self.index) - 1)

    def _table_key(self) -> str | None:
        """What names this engine's table in the version folder; None: it gets none."""
        if not 1 < len(self.index) <= self.settings.similar_table_max_films:
            return None
        return table_key(self.settings.search_mode, self._table_depth(), self.settings.rrf_k,
                         self.settings.semantic_weight, HYBRID_CANDIDATES)

    # -- the catalog -------------------------------------------------------------

    def film(self, film_id: str) -> Film:
        row = self.index.row_of.get(film_id)
        if row is None:
            raise FilmNotFound(film_id)
        return self.index.films[row]

    def films(self, offset: int = 0, limit: int = 20) -> tuple[int, list[Film]]:
        if offset < 0:
            raise InvalidParameter("offset", f"offset must be 0 or more, got {offset}")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidParameter(
                "limit", f"limit must be from 1 to {MAX_LIST_LIMIT}, got {limit}")
        return len(self.index.films), self.index.films[offset:offset + limit]

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
        film = self.film(film_id)
        row = self.index.row_of[film.id]
        table = self.neighbours
        results, more = table.page(row, options) if table is not None and \
            table.answers(options) else self._similar_ranked(row, options)
        return ResultPage({"id": film.id, "resolved": film_summary(film), **options.echo(),
                           **self._unknown_excludes(options)}, results, more)

    def _similar_ranked(self, row: int, options: QueryOptions) -> tuple[list[ScoredFilm], bool]:
        """The pipeline's answer to "films like the film at ``row``"."""
        terms = [] if options.mode == "semantic" else \
            self.index.lexical.distinctive_terms(lexical_text(self.index.films[row]))
        semantic = _VectorQuery(self.index, lambda: self.index.vector(row))
        return self._rank(semantic, terms, options, exclude_rows={row}, liked_rows=[row])

    def similar_by_title(self, title: str, year: int | None = None,
                         options: QueryOptions | None = None) -> ResultPage:
        """Like :meth:`similar`, the film named by its title (see :mod:`recommender.titles`)."""
        title = check_text("title", title, self.settings.max_title_chars)
        resolution = self.titles.resolve(title, year)
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
        semantic = _VectorQuery(self.index, lambda: self._embed(text))
        results, more = self._rank(semantic, terms, options, query_text=text)
        return ResultPage({"q": text, **options.echo(), **self._unknown_excludes(options)},
                          results, more)

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
        liked, disliked, unresolved = [], [], []
        for name, items, out in (("positive", positive, liked), ("negative", negative, disliked)):
            for i, item in enumerate(items):
                budget.check("resolving liked and disliked films")
                try:
                    film, resolution = self.resolve_item(item, name)
                except (TitleNotFound, AmbiguousTitle, FilmNotFound) as exc:
                    unresolved.append({"list": name, "index": i, "item": item, **exc.to_dict()})
                    continue
                out.append((film, resolution))
        if not liked and not query:
            raise NothingToRecommendFrom(unresolved)
        liked_rows = list(dict.fromkeys(self.index.row_of[f.id] for f, _ in liked))
        disliked_rows = list(dict.fromkeys(self.index.row_of[f.id] for f, _ in disliked))

        terms: list[str] = []
        if options.mode != "semantic":
            for row in liked_rows:
                terms += self.index.lexical.distinctive_terms(lexical_text(self.index.films[row]))
            if query:
                terms += self.index.lexical.analyzer.query_terms(query)
        semantic = self._preference(liked_rows, disliked_rows, query, strategy)
        results, more = self._rank(semantic, terms, options,
                                   exclude_rows=set(liked_rows) | set(disliked_rows),
                                   liked_rows=liked_rows, query_text=query)

        def echo(pairs: list[tuple[Film, Resolution | None]]) -> list[dict[str, Any]]:
            return [{**film_summary(f), **(r.to_dict() if r else {"match": "id"})}
                    for f, r in pairs]

        echoed: dict[str, Any] = {"positive": echo(liked), "negative": echo(disliked)}
        if query:
            echoed["query"] = query
        echoed |= {"strategy": strategy, **options.echo(), **self._unknown_excludes(options),
                   "unresolved": unresolved}
        return ResultPage(echoed, results, more)

    def recommend_weighted(self, liked: Mapping[str, float],
                           disliked: Mapping[str, float] = MappingProxyType({}),
                           options: QueryOptions | None = None,
                           exclude: Sequence[str] = ()) -> ResultPage:
        """Films like the ``liked`` ids, unlike the ``disliked`` ones, each counting by its
        weight (> 0): a viewer's history as :mod:`recommender.personal` weighs it.

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

        def vector() -> np.ndarray:
            mean = liked_w @ self.index.vectors(liked_rows) / liked_w.sum()
            if disliked_rows:
                mean = 2 * mean - disliked_w @ self.index.vectors(disliked_rows) / \
                    disliked_w.sum()
            norm = float(np.linalg.norm(mean))
            return (mean / norm if norm > 0 else mean).astype(np.float32)

        strongest = [liked_rows[i] for i in np.argsort(-liked_w, kind="stable")[:MAX_TERM_FILMS]]
        terms: list[str] = []
        if options.mode != "semantic":
            for row in strongest:
                terms += self.index.lexical.distinctive_terms(lexical_text(self.index.films[row]))
        excluded = {self.index.row_of[f] for f in exclude if f in self.index.row_of}
        results, more = self._rank(_VectorQuery(self.index, vector), terms, options,
                                   exclude_rows=excluded | set(liked_rows) | set(disliked_rows),
                                   liked_rows=strongest)
        return ResultPage({"liked": len(liked_rows), "disliked": len(disliked_rows),
                           **options.echo()}, results, more)

    # -- the pipeline --------------------------------------------------------------

    def _preference(self, liked_rows: list[int], disliked_rows: list[int],
                    query: str | None, strategy: str) -> _Semantic:
        def liked_vectors() -> list[np.ndarray]:
            vectors = [self.index.vector(r) for r in liked_rows]
            return vectors + ([self._embed(query)] if query else [])

        disliked = self.index.vectors(disliked_rows) \
            if disliked_rows else np.empty((0, self.index.dimension), dtype=np.float32)
        if strategy == "best_score":
            return _BestScoreQuery(self.index, liked_vectors, disliked)

        def average() -> np.ndarray:
            mean_liked = np.mean(liked_vectors(), axis=0)
            vector = mean_liked if not len(disliked) else \
                2 * mean_liked - disliked.mean(axis=0)
            norm = float(np.linalg.norm(vector))
            return (vector / norm if norm > 0 else mean_liked).astype(np.float32)

        return _VectorQuery(self.index, average)

    def _rank(self, semantic: _Semantic, terms: list[str], options: QueryOptions, *,
              exclude_rows: set[int] | None = None, liked_rows: Sequence[int] = (),
              query_text: str | None = None) -> tuple[list[ScoredFilm], bool]:
        """One page of films, ranked by ``options.mode``, filtered inside the search.

        The vector side is asked only where the mode needs it, so a lexical query
        never calls the model. Returns the page and whether more films follow.
        """
        budget.check("filters")
        allowed = self.filters.allowed(options, exclude_rows or set())
        wanted = options.offset + options.k
        pool = wanted + 1  # one more than the page tells whether more follow
        if options.diversity > 0:
            pool = max(pool, 3 * wanted, DIVERSITY_POOL)
        films = self.index.films
        hits: list[ScoredFilm]
        if options.mode == "semantic":
            hits = [ScoredFilm(films[r], s, semantic=s)
                    for r, s in semantic.search(pool, allowed)]
        else:
            lexical_scores = self.index.lexical.scores(terms)
            budget.check("word scores")
            if options.mode == "lexical":
                hits = [ScoredFilm(films[r], s, lexical=s)
                        for r, s in top_k(lexical_scores, pool, allowed, min_score=0.0)]
            else:
                depth = max(HYBRID_CANDIDATES, pool)
                semantic_hits = semantic.search(depth, allowed)
                budget.check("vector search")
                lexical_hits = top_k(lexical_scores, depth, allowed, min_score=0.0)
                weight = self.settings.semantic_weight
                fused = reciprocal_rank_fusion(
                    [[r for r, _ in semantic_hits], [r for r, _ in lexical_hits]],
                    weights=[weight, 1.0 - weight], rrf_k=self.settings.rrf_k)
                cosine = dict(semantic_hits)
                # the words found some films the vectors didn't rank: their cosines at once
                unranked = [r for r, _ in fused[:pool] if r not in cosine]
                if unranked:
                    cosine |= zip(unranked, semantic.scores(unranked).tolist(), strict=True)
                hits = [ScoredFilm(films[r], s, semantic=cosine[r],
                                   lexical=float(lexical_scores[r]) or None)
                        for r, s in fused[:pool]]
        budget.check("ranking")
        if options.min_score is not None:
            hits = [h for h in hits if h.score >= options.min_score]
        if options.diversity > 0 and hits:
            vectors = self.index.vectors([self.index.row_of[h.film.id] for h in hits])
            # only as many picks as the page and the one after it: the rest is never shown
            order = maximal_marginal_relevance(np.array([h.score for h in hits]), vectors,
                                               wanted + 1, options.diversity,
                                               check=lambda: budget.check("diversity"))
            hits = [hits[i] for i in order]
        page = hits[options.offset:wanted]
        if options.explain:
            for hit in page:
                hit.explanation = explain(self.index, hit, liked_rows, query_text)
        return page, len(hits) > wanted

    def _embed(self, text: str) -> np.ndarray:
        vector = self.embedder.encode_query(text)
        self.index.check_compatible(dimension=vector.shape[0])
        return vector

    def _unknown_excludes(self, options: QueryOptions) -> dict[str, Any]:
        unknown = [i for i in options.exclude if i not in self.index.row_of]
        return {"exclude_unknown": unknown} if unknown else {}
