"""A second real catalog's rules' fields: the IMDb top 1000 read with its ``Certificate``
as maturity and ``Director``, ``Star1..4`` as people, on the default maturity scale,
with its dirt (one row's year is "PG")."""

from __future__ import annotations

import collections

import pytest

from recommender.catalog.facets import MaturityScale
from recommender.catalog.films import CsvColumns, load_catalog
from tests.conftest import SHARED

IMDB = SHARED / "datasets" / "imdb_top_1000.csv"
COLUMNS = CsvColumns(title="Series_Title", text="Overview", year="Released_Year",
                     genres="Genres", maturity="Certificate",
                     people=(("director", "Director"), ("cast", "Star1"), ("cast", "Star2"),
                             ("cast", "Star3"), ("cast", "Star4")))


@pytest.fixture(scope="module")
def imdb():
    if not IMDB.exists():
        pytest.skip(f"{IMDB} is absent: the IMDb catalog lives in ../shared/datasets")
    return load_catalog(IMDB, COLUMNS, language="en", on_invalid="skip")


def test_every_certificate_is_on_the_default_scale(imdb):
    assert len(imdb) == 999 and [r["field"] for r in imdb.rejects] == ["Released_Year"]
    ratings = collections.Counter(f.maturity for f in imdb.films)
    assert ratings["A"] > 150 and ratings["U"] > 200 and None in ratings  # 101 rows blank
    scale = MaturityScale.load(None)
    assert {scale.age(r) for r in ratings if r} >= {0, 12, 17, 18, None}


def test_directors_and_stars_are_people_and_the_rest_attributes(imdb):
    film = next(f for f in imdb.films if f.title == "The Shawshank Redemption")
    assert [(p.name, p.role) for p in film.people][:2] == [("Frank Darabont", "director"),
                                                         ("Tim Robbins", "cast")]
    assert len(film.people) == 5 and film.maturity == "A"
    assert film.attributes["IMDB_Rating"] == 9.3 and film.attributes["No_of_Votes"] == 2343110
