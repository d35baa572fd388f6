"""The precomputed "more like this" table answers exactly as the ranking pipeline does."""

import dataclasses

import pytest

from recommender.api import EXTENSION, create_app
from recommender.engine import Engine, QueryOptions
from recommender.store import load_index
from tests.conftest import ROCKY_IDS


@pytest.fixture(scope="module")
def tabled(settings, embedder) -> Engine:
    engine = Engine(load_index(settings.index, expected_model=embedder.name), embedder, settings)
    assert engine.precompute_similar()
    return engine


def page_dict(engine: Engine, film_id: str, options: QueryOptions) -> dict:
    return engine.similar(film_id, options).to_dict()


@pytest.mark.parametrize("k,offset", [(1, 0), (4, 0), (7, 0), (3, 2), (5, 2), (2, 6), (5, 9)])
def test_every_page_equals_the_pipelines(engine, tabled, k, offset):
    assert engine.neighbours is None  # the plain engine answers through the pipeline
    options = QueryOptions(k=k, offset=offset, mode=tabled.settings.search_mode)
    assert tabled.neighbours.answers(options)
    for film in engine.index.films:
        assert page_dict(tabled, film.id, options) == page_dict(engine, film.id, options)


def test_the_table_holds_the_rocky_films_first(tabled):
    table = tabled.neighbours
    row = tabled.index.row_of["rocky-1976"]
    first = [tabled.index.films[r].id for r in table.rows[row, :4]]
    assert sorted(first) == sorted(ROCKY_IDS[1:])
    assert table.depth == len(tabled.index) - 1  # every other film, at most max_k
    assert (table.lengths == table.depth).all()


@pytest.mark.parametrize("options", [
    QueryOptions(mode="semantic"), QueryOptions(mode="lexical"), QueryOptions(year_min=1980),
    QueryOptions(genres=("Drama",)), QueryOptions(exclude=("rocky-ii-1979",)),
    QueryOptions(min_score=0.5), QueryOptions(diversity=0.5), QueryOptions(explain=True),
])
def test_other_questions_go_down_the_pipeline(engine, tabled, options):
    assert not tabled.neighbours.answers(options)
    for film_id in ("rocky-1976", engine.index.films[-1].id):
        assert page_dict(tabled, film_id, options) == page_dict(engine, film_id, options)


def test_pages_deeper_than_a_shallow_table_go_down_the_pipeline(settings, embedder, engine):
    shallow = Engine(load_index(settings.index, expected_model=embedder.name), embedder,
                     dataclasses.replace(settings, max_k=3))
    shallow.precompute_similar()
    assert shallow.neighbours.depth == 3 and not shallow.neighbours.complete
    for k, offset, from_table in [(3, 0, True), (2, 1, True), (2, 2, False), (1, 3, False)]:
        options = QueryOptions(k=k, offset=offset)
        assert shallow.neighbours.answers(options) is from_table
        for film in engine.index.films:
            assert page_dict(shallow, film.id, options) == page_dict(engine, film.id, options)


def test_a_served_index_gets_its_table_and_the_setting_turns_it_off(settings, engine):
    served = create_app(settings)
    client, plain = served.test_client(), create_app(settings, engine=engine).test_client()
    for film in engine.index.films:
        for url in (f"/films/{film.id}/similar?k=3", f"/films/{film.id}/similar?k=2&offset=1"):
            assert client.get(url).get_json() == plain.get(url).get_json()
    assert served.extensions[EXTENSION]["live"].engine().neighbours is not None
    off = create_app(dataclasses.replace(settings, similar_table_max_films=0))
    assert off.extensions[EXTENSION]["live"].engine().neighbours is None
    url = "/films/rocky-1976/similar"
    assert off.test_client().get(url).get_json() == client.get(url).get_json()
