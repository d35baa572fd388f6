"""Promotions placed on a page, by known answers: exactly the promoted films in the first
places, those already there keep their place, the rest pushed down in their order."""

from __future__ import annotations

from recommender.catalog.film import Film
from recommender.search.query import ScoredFilm
from recommender.viewers.placement import promote_into


def hits(*ids: str) -> list[ScoredFilm]:
    return [ScoredFilm(Film(i, i, "s"), 1.0 - n / 10) for n, i in enumerate(ids)]


def test_arriving_films_take_the_last_of_the_first_places():
    page = promote_into(hits("a", "b", "c", "d", "e"), hits("x", "y"), "p", of_first=4, k=5)
    assert [h.film.id for h in page] == ["a", "b", "x", "y", "c"]
    assert [h.promoted for h in page] == [None, None, "p", "p", None]


def test_a_promoted_film_already_there_keeps_its_place():
    page = promote_into(hits("a", "x", "b", "c", "d"), hits("x", "y"), "p", of_first=4, k=5)
    assert [h.film.id for h in page] == ["a", "x", "b", "y", "c"]
    assert sum(h.promoted == "p" for h in page[:4]) == 2


def test_one_below_the_first_places_moves_up_and_a_short_page_still_gets_them():
    page = promote_into(hits("a", "b", "c", "x"), hits("x"), "p", of_first=2, k=4)
    assert [h.film.id for h in page] == ["a", "x", "b", "c"]
    assert [h.film.id for h in promote_into(hits("a"), hits("x", "y"), "p", 10, 10)] == \
        ["a", "x", "y"]
    assert promote_into(hits("a", "b"), [], "p", 2, 2)[0].promoted is None
