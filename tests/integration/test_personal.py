"""Per-viewer answers (recommender/personal.py): the profile a history makes, and the
recommendations, rows and trending the real engine gives from a real event store."""

import time

import pytest

from recommender.search.query import QueryOptions
from recommender.storage import Event, open_store
from recommender.viewers.personal import DAY, Personalizer
from recommender.viewers.rows import home_rows
from tests.conftest import ROCKY_IDS


@pytest.fixture
def personal(tmp_path, settings):
    store = open_store(f"sqlite:///{tmp_path / 'events.sqlite3'}")
    yield Personalizer(store, settings)
    store.close()


def _add(personal, user, *events, ago_days=0.0):
    now = time.time()
    personal.record([Event(user, film, kind, value, ts=now - ago_days * DAY)
                     for film, kind, value in events])


def test_a_viewer_who_liked_rocky_gets_the_rocky_films_because_of_it(personal, engine):
    _add(personal, "ann", ("rocky-1976", "like", None))
    page = personal.recommend(engine, "ann", QueryOptions(k=4))
    assert {r.film.id for r in page.results} == set(ROCKY_IDS[1:])
    assert all(r.reasons[0]["because"] == "liked" and
               r.reasons[0]["film"]["id"] == "rocky-1976" for r in page.results)
    assert page.query["basis"] == "history" and page.query["history"] == 1


def test_seen_films_are_left_out_unless_asked_for(personal, engine):
    _add(personal, "bo", ("rocky-1976", "like", None), ("rocky-ii-1979", "view", 1.0),
         ("rocky-iii-1982", "rating", 4.0))
    ids = [r.film.id for r in personal.recommend(engine, "bo", QueryOptions(k=7)).results]
    assert not {"rocky-1976", "rocky-ii-1979", "rocky-iii-1982"} & set(ids)
    with_seen = personal.recommend(engine, "bo", QueryOptions(k=7), include_seen=True)
    # the liked films themselves are never their own results; seen ones may come back
    assert "rocky-ii-1979" not in {r.film.id for r in with_seen.results}
    assert len(with_seen.results) >= len(ids)


def test_a_dislike_pushes_its_kind_away(personal, engine):
    semantic = QueryOptions(k=6, mode="semantic")
    _add(personal, "cy", ("lucky-you-2007", "like", None))
    before = [r.film.id for r in personal.recommend(engine, "cy", semantic).results]
    _add(personal, "cy", ("rocky-v-1990", "dislike", None))
    after = [r.film.id for r in personal.recommend(engine, "cy", semantic).results]
    assert "rocky-v-1990" not in after  # seen, and disliked
    rockys = [f for f in ROCKY_IDS if f != "rocky-v-1990"]

    def mean_rank(ids):
        kept = [f for f in ids if f != "rocky-v-1990"]
        return sum(kept.index(f) for f in rockys) / len(rockys)

    assert mean_rank(after) > mean_rank(before)  # the Rocky films moved down the list


def test_a_new_viewer_gets_trending_then_the_catalog_never_an_error(personal, engine):
    page = personal.recommend(engine, "new", QueryOptions(k=8))
    assert len(page.results) == 7 or len(page.results) == 8
    assert {r.reasons[0]["because"] for r in page.results} == {"catalog"}
    _add(personal, "others", ("lucky-you-2007", "like", None), ("lucky-you-2007", "view", 1.0),
         ("the-karate-kid-1984", "view", 0.8))
    page = personal.recommend(engine, "new", QueryOptions(k=3))
    assert [r.film.id for r in page.results[:2]] == ["lucky-you-2007", "the-karate-kid-1984"]
    assert page.results[0].reasons == [{"because": "trending"}]
    assert page.results[2].reasons == [{"because": "catalog"}]
    assert page.query["basis"] == "trending"


def test_trending_decays_with_time_and_honours_filters(personal, engine):
    _add(personal, "x", ("rocky-1976", "view", 1.0), ("rocky-1976", "view", 1.0), ago_days=10)
    _add(personal, "y", ("rocky-v-1990", "view", 1.0))
    page = personal.trending(engine, QueryOptions(k=2))
    assert [r.film.id for r in page.results] == ["rocky-v-1990", "rocky-1976"]
    # two views ten days old count less than one of today (half-life 3 days)
    assert page.results[0].score > page.results[1].score
    older = personal.trending(engine, QueryOptions(k=1, year_max=1980))
    assert [r.film.id for r in older.results] == ["rocky-1976"]
    assert personal.trending(engine, QueryOptions(k=1), window_days=5).results[0].film.id \
        == "rocky-v-1990"


def test_rows_are_one_per_liked_film_with_no_film_twice(personal, engine):
    _add(personal, "di", ("rocky-1976", "like", None), ago_days=1)
    _add(personal, "di", ("the-karate-kid-1984", "view", 0.9))
    rows = home_rows(personal, engine, "di", rows=3, k=3, options=QueryOptions())
    assert [row["because"]["id"] for row in rows] == ["the-karate-kid-1984", "rocky-1976"]
    assert [row["reason"] for row in rows] == ["watched", "liked"]
    shown = [hit.film.id for row in rows for hit in row["results"]]
    assert len(shown) == len(set(shown)) and not {"rocky-1976", "the-karate-kid-1984"} & set(shown)


def test_a_forgotten_viewer_is_unknown_everywhere(personal, engine):
    _add(personal, "ed", ("lucky-you-2007", "like", None))
    assert personal.trending(engine, QueryOptions(k=1)).results[0].film.id == "lucky-you-2007"
    personal.forget("ed")
    assert personal.history("ed", 10) == []
    assert personal.recommend(engine, "ed", QueryOptions(k=2)).query["history"] == 0
    assert personal.trending(engine, QueryOptions(k=1)).results[0].reasons == \
        [{"because": "catalog"}]


@pytest.mark.parametrize("source", ["content", "collaborative", "popular", "trending"])
def test_each_source_alone_answers_with_its_reasons_through_the_one_chain(personal, engine,
                                                                          source):
    """An experiment's variant of one source goes through the default's chain: its
    answers have reasons (the content variant's said nothing of why before), and a source
    with nothing for the viewer (no model here) gives way to what is trending."""
    _add(personal, "fay", ("rocky-1976", "like", None))
    _add(personal, "gus", ("lucky-you-2007", "view", 1.0))
    page = personal.recommend(engine, "fay", QueryOptions(k=3), source=source)
    assert len(page.results) == 3 and all(r.reasons for r in page.results)
    assert "rocky-1976" not in {r.film.id for r in page.results}
    if source == "content":
        assert page.query["basis"] == "content"
        assert all(r.reasons[0] == {"because": "liked", "film": r.reasons[0]["film"],
                                    "similarity": r.reasons[0]["similarity"]}
                   and r.reasons[0]["film"]["id"] == "rocky-1976" for r in page.results)
    else:  # no model: the collaborative source has nothing; popular and trending count
        assert page.query["basis"] == ("popular" if source == "popular" else "trending")
        assert page.results[0].film.id == "lucky-you-2007"
