"""The rules at work on one surface's answer: boosts, promotions and pins.

A surface's answer is made by ``run`` (its own ranking, for options); the rules are laid
on its first page:

* **boost**: films matching the boost's expression score ``factor`` times as much; the
  page is drawn from a deeper pool (three times its size) and ranked again, so a boosted
  film from below the page can rise into it;
* **promote**: the best-fitting films matching the expression (the surface's own ranking,
  asked again with the expression added to the request's filters) take up to ``places``
  of the first ``of_first`` places: a promoted film already there keeps its place, the
  others take the last places of the first ``of_first``;
* **pin**: the film at ``place`` while its window holds.

Every film a rule brings is one the request's context and filters allow (the ranking is
asked with them, and a pinned film is checked against them): a rule never shows a film
the context forbids. A placed film carries ``promoted``: the rule's name.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import numpy as np

from recommender.errors import InvalidParameter
from recommender.search.engine import Engine
from recommender.search.expressions import Node
from recommender.search.query import QueryOptions, ResultPage, ScoredFilm
from recommender.viewers.rules import Rules
from recommender.viewers.surfaces import Surface

log = logging.getLogger(__name__)
BOOST_POOL = 3
"""A boosted page is ranked again from this many times its films."""


def with_rules(rules: Rules | None, surface: Surface, engine: Engine, options: QueryOptions,
               run: Callable[[QueryOptions], ResultPage],
               now: float | None = None) -> ResultPage:
    """``run(options)``, with the rules of ``surface`` laid on its first page."""
    if rules is None or options.offset > 0:
        return run(options)
    now = time.time() if now is None else now
    boosts = rules.boosts_of(surface)
    promotions = rules.promotions_of(surface)
    pins = rules.pins_of(surface, now)
    if not (boosts or promotions or pins):
        return run(options)
    k = options.k
    page = run(dataclasses.replace(options, k=min(engine.settings.max_k, BOOST_POOL * k))
               if boosts else options)
    if not page.results:  # nothing (or "nothing close"): no rule fills an empty answer
        return page
    results = list(page.results)
    if boosts:
        for boost, node in boosts:
            matching = _mask_of(engine, node, boost.name)
            if matching is None:
                continue
            for hit in results:
                row = engine.index.row_of.get(hit.film.id)
                if row is not None and matching[row]:  # a blend's score may be below 0
                    hit.score = hit.score * boost.factor if hit.score >= 0 else \
                        hit.score / boost.factor
        results.sort(key=lambda h: -h.score)
        page.has_more = page.has_more or len(results) > k
        results = results[:k]
        page.query["k"] = k  # the pool was deeper; the answer is the page asked for
    for promotion, node in promotions:
        if _mask_of(engine, node, promotion.name) is None:
            continue
        wanted = min(promotion.places, promotion.of_first)
        found = run(dataclasses.replace(
            options, k=wanted, offset=0, filter_node=_both(options.filter_node, node)))
        promoted = found.results or _nearest(engine, found, wanted)
        results = promote_into(results, promoted, promotion.name, promotion.of_first, k)
    allowed = engine.filters.allowed(options, set()) if pins else None
    for pin in sorted(pins, key=lambda p: p.place):
        row = engine.index.row_of.get(pin.film)
        if row is None or (allowed is not None and not allowed[row]) or \
                page.query.get("id") == pin.film:
            continue  # gone, forbidden here, or the film the answer is about
        there = next((h for h in results if h.film.id == pin.film), None)
        if there is not None:
            results.remove(there)
        hit = there or ScoredFilm(engine.index.films[row], 0.0)
        hit.promoted = pin.name
        results.insert(min(pin.place - 1, len(results)), hit)
        results = results[:k]
    page.results = results
    return page


def _mask_of(engine: Engine, node: Node, rule: str) -> np.ndarray | None:
    """The films a rule's expression holds for; None where this catalog can't say (an
    attribute no film has yet): the operator's rule is left out and logged, never a 400
    that blames the request."""
    try:
        return engine.filters.expression(node)
    except InvalidParameter as exc:
        log.warning("rule %s left out: %s", rule, exc.message)
        return None


def _nearest(engine: Engine, found: ResultPage, k: int) -> list[ScoredFilm]:
    """A search's matching films where none of them alone is close ("nothing close": they
    are under ``nearest``): the answer they join is close, so the best of them still
    take the promotion's places (a series the page shows anyway is marked as promoted)."""
    rows = engine.index.row_of
    return [ScoredFilm(engine.index.films[rows[d["id"]]], d["score"],
                       semantic=(d.get("scores") or {}).get("semantic"))
            for d in found.extra.get("nearest", [])[:k] if d["id"] in rows]


def _both(first: Node | None, second: Node) -> Node:
    return second if first is None else Node("and", (first, second))


def promote_into(results: list[ScoredFilm], promoted: list[ScoredFilm], name: str,
             of_first: int, k: int) -> list[ScoredFilm]:
    """``results`` with ``promoted`` in the first ``of_first`` places: one already there
    stays where it is, the others take the last of those places, pushing the rest down."""
    if not promoted:
        return results
    ids = {h.film.id for h in promoted}
    staying = [h for h in results[:of_first] if h.film.id in ids]
    for hit in staying:
        hit.promoted = name
    there = {h.film.id for h in staying}
    arriving = [h for h in promoted if h.film.id not in there]
    for hit in arriving:
        hit.promoted = name
    organic = [h for h in results if h.film.id not in ids]
    slots = max(0, of_first - len(staying) - len(arriving))
    order = {h.film.id: i for i, h in enumerate(results)}
    head = sorted(staying + organic[:slots], key=lambda h: order[h.film.id])
    return (head + arriving + organic[slots:])[:k]
