"""Filter expressions: parsed by the grammar, refused with the column where they stop, and
evaluated into the one mask with the viewer's context (territory now, maturity)."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.catalog.films import film_from_fields
from recommender.errors import InvalidParameter
from recommender.index.film_index import FilmIndex
from recommender.search.expressions import parse
from recommender.search.filters import FilterMasks
from recommender.search.query import QueryOptions

FILMS = [
    {"id": "a", "year": 1994, "kind": "film", "maturity": "R", "genres": ["Drama"],
     "people": [{"name": "Tom Hanks"}, {"name": "R. Zemeckis", "role": "director"}],
     "attributes": {"original": True, "votes": 100}},
    {"id": "b", "year": 2001, "kind": "series", "maturity": "TV-Y", "genres": ["Kids"],
     "territories": [{"country": "DK", "until": "2030-01-01T00:00:00Z"}],
     "attributes": {"studio": "Nordisk", "votes": 5}},
    {"id": "c", "kind": "series", "genres": ["Drama"],
     "territories": [{"country": "SE", "from": "2031-01-01T00:00:00Z"}]},
]


@pytest.fixture(scope="module")
def masks():
    films = [film_from_fields("t", {"title": f["id"], "synopsis": "s", **f}) for f in FILMS]
    index = FilmIndex.__new__(FilmIndex)  # the fields the masks read, without FAISS
    index.films = films
    index.row_of = {f.id: i for i, f in enumerate(films)}
    index.years = np.array([np.nan if f.year is None else f.year for f in films])
    return FilterMasks(index)


def rows(masks, text: str) -> list[str]:
    mask = masks.expression(parse(text))
    return [FILMS[i]["id"] for i in np.flatnonzero(mask)]


@pytest.mark.parametrize("text, expected", [
    ('kind = "series"', ["b", "c"]),
    ('kind = "SERIES" and genres has "drama"', ["c"]),
    ("year >= 1990 and year < 2000", ["a"]),
    ("not year > 1990", ["c"]),  # a missing year is in no range; "not" takes it back
    ('people has "tom hanks"', ["a"]),
    ('people.director has "R. Zemeckis" or people.cast has "R. Zemeckis"', ["a"]),
    ("attributes.original", ["a"]),
    ("not attributes.original", ["b", "c"]),
    ("attributes.votes > 10", ["a"]),
    ('attributes.studio != "Nordisk"', []),  # a film without the field isn't "not Nordisk"
    ('maturity in ["R", "tv-y"]', ["a", "b"]),
    ("age <= 7", ["b"]),  # unrated counts as 18
    ('id in ["a", "c", "zz"]', ["a", "c"]),
    ('(kind = "film" or kind = "series") and not (year > 2000)', ["a", "c"]),
])
def test_expressions_select_the_films_they_say(masks, text, expected):
    assert rows(masks, text) == expected


@pytest.mark.parametrize("text, says", [
    ('kind = "film" and', "column 18"),
    ('kind == "film"', "column 7"),
    ("attributes.nope", "unknown attribute 'nope'"),
    ('attributes.votes > "x"', "needs a number"),
    ('attributes.studio > 3', "holds strings"),
    ('genre has "x"', "unknown field 'genre'"),
    ("genres has 'x'", "column 12"),  # strings take double quotes
    ("(" * 30 + "year > 1" + ")" * 30, "nests at most"),
    ("year > 1 and " * 300 + "year > 1", "at most 2000 characters"),
])
def test_a_bad_expression_says_where_and_why(masks, text, says):
    with pytest.raises(InvalidParameter) as refused:
        masks.expression(parse(text))
    assert says in refused.value.message and refused.value.parameter == "filter"


def test_the_context_is_territory_now_and_maturity(masks):
    now = 1_900_000_000.0  # 2030-03-17: b's Danish licence has ended, c's Swedish not begun
    earlier = 1_800_000_000.0  # 2027
    def ids(mask):
        return [FILMS[i]["id"] for i in range(3) if mask is None or mask[i]]
    assert ids(masks.context(None, None, earlier)) == ["a"]  # no country: everywhere only
    assert ids(masks.context("DK", None, earlier)) == ["a", "b"]
    assert ids(masks.context("DK", None, now)) == ["a"]
    assert ids(masks.context("SE", None, 1_950_000_000.0)) == ["a", "c"]
    assert ids(masks.context("DK", 7, earlier)) == ["b"]
    assert masks.why_not(1, "SE", None, earlier) == "territory"
    assert masks.why_not(0, "DK", 7, earlier) == "maturity"
    options = QueryOptions(country="DK", max_age=18, filter_node=parse('kind = "series"'))
    assert ids(masks.allowed(options, set(), earlier)) == ["b"]
