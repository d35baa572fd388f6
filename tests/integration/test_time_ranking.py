"""What time adds to a warm viewer's ranking (recommender/viewers/recency.py, blend.py,
rows.py): what is popular now, films new on the service, and the home screen's rows, with
a real collaborative model trained on a real event store."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from recommender.search.query import QueryOptions
from recommender.storage import Event, open_store
from recommender.viewers import collaborative
from recommender.viewers.personal import DAY, Personalizer
from recommender.viewers.rows import home_rows
from recommender.viewers.sources import Context
from tests.conftest import ROCKY_IDS

NOW = time.time()
OLD = NOW - 400 * DAY


@pytest.fixture
def world(tmp_path, engine):
    """Viewers of long ago who each watched two Rocky films, and a model learnt from them."""
    store = open_store(f"sqlite:///{tmp_path / 'events.sqlite3'}")
    films = [f.id for f in engine.index.films]
    events = []
    for i in range(60):
        pair = (ROCKY_IDS[i % 5], ROCKY_IDS[(i + 1) % 5])
        events += [Event(f"old{i}", f, "rating", 4.5, ts=OLD + i) for f in pair]
    store.add(events)
    trained = collaborative.train(tmp_path, ((e.user, e.film_id, e.ts) for e in events), films)
    model = collaborative.load(trained.path)
    yield store, model, films
    store.close()


def _personal(store, model, settings, clock=NOW, arrivals=None):
    return Personalizer(store, settings, clock=lambda: clock, model=lambda: model,
                        arrivals=(lambda index: arrivals or {}))


def _ids(page):
    return [hit.film.id for hit in page.results]


def _popular_now(store, film, viewers=30, at=NOW - DAY):
    store.add([Event(f"now{i}", film, "like", ts=at + i) for i in range(viewers)])


def test_what_is_popular_now_lifts_a_film_for_a_viewer_active_now(world, settings, engine):
    store, model, films = world
    outsider = next(f for f in films if f not in ROCKY_IDS)
    store.add([Event("ann", "rocky-1976", "rating", 5.0, ts=NOW - 3600)])
    plain = dataclasses.replace(settings, popular_weight=0.0)
    before = _ids(_personal(store, model, plain).recommend(engine, "ann", QueryOptions(k=8)))
    _popular_now(store, outsider)
    timely = dataclasses.replace(settings, popular_weight=2.0, popular_half_life_days=30.0)
    after = _ids(_personal(store, model, timely).recommend(engine, "ann", QueryOptions(k=8)))
    assert before[0] in ROCKY_IDS and outsider in before  # the model's Rocky films first
    assert after[0] == outsider  # everyone is watching it this week
    # popular a year ago is not popular now: the same likes, 400 days old, barely count
    stale = _ids(_personal(store, model, timely, clock=NOW + 400 * DAY).recommend(
        engine, "ann", QueryOptions(k=8)))
    assert stale.index(outsider) > 0


def test_popular_now_counts_less_for_a_viewer_away_for_long(world, settings, engine):
    store, model, films = world
    outsider = next(f for f in films if f not in ROCKY_IDS)
    _popular_now(store, outsider)
    store.add([Event("bo", "rocky-1976", "rating", 5.0, ts=NOW - 3 * 365 * DAY)])
    store.add([Event("cy", "rocky-1976", "rating", 5.0, ts=NOW - 3600)])
    timely = dataclasses.replace(settings, popular_weight=2.0,
                                 popular_activity_half_life_days=30.0)
    personal = _personal(store, model, timely)
    away = _ids(personal.recommend(engine, "bo", QueryOptions(k=8)))
    active = _ids(personal.recommend(engine, "cy", QueryOptions(k=8)))
    assert active[0] == outsider
    assert away[0] in ROCKY_IDS  # three years away: their own films speak for them
    profile = personal.profile("bo")
    popular = personal.sources["popular"].scores(Context(engine, profile, NOW, timely,
                                                         profile.liked))
    assert popular is not None and popular.scale < 1e-6


def test_a_film_new_on_the_service_gets_exposure_until_the_model_learns_it(world, settings,
                                                                           engine):
    store, model, films = world
    store.add([Event("di", "rocky-ii-1979", "rating", 5.0, ts=NOW - 3600)])
    new_film = next(f for f in films if f not in model.row_of)  # no event of it anywhere
    arrivals = {new_film: NOW - 2 * DAY}
    off = dataclasses.replace(settings, new_slots=0)
    on = dataclasses.replace(settings, new_slots=1, new_window_days=30.0)
    without = _ids(_personal(store, model, off, arrivals=arrivals).recommend(
        engine, "di", QueryOptions(k=3)))
    page = _personal(store, model, on, arrivals=arrivals).recommend(
        engine, "di", QueryOptions(k=3))
    assert new_film not in without and new_film in _ids(page) and len(page.results) == 3
    hit = page.results[_ids(page).index(new_film)]
    assert hit.reasons[0] == {"because": "new_on_the_service"}
    assert _ids(page)[:2] == without[:2]  # one place kept for it, the best two stay
    # past its window it is a film like any other again
    later = _ids(_personal(store, model, on, clock=NOW + 40 * DAY, arrivals=arrivals)
                 .recommend(engine, "di", QueryOptions(k=3)))
    assert new_film not in later


def test_the_home_screen_says_what_each_row_is(world, settings, engine):
    store, model, films = world
    outsider = next(f for f in films if f not in ROCKY_IDS)
    newest = next(f for f in films if f not in ROCKY_IDS and f != outsider)
    empty = _personal(store, model, settings, clock=OLD + 900 * DAY)
    rows = home_rows(empty, engine, "nobody", rows=3, k=4, options=QueryOptions())
    # nothing watched within a week of that clock and nothing new: the catalog, said so
    assert [(r["title"], r["reason"]) for r in rows] == [("From the catalog", "catalog")]
    _popular_now(store, outsider, viewers=5)
    store.add([Event("ed", "rocky-1976", "like", ts=NOW - 3600)])
    personal = _personal(store, model, settings, arrivals={newest: NOW - DAY})
    rows = home_rows(personal, engine, "ed", rows=1, k=3, options=QueryOptions())
    titles = [r["title"] for r in rows]
    assert titles[0].startswith("Because you liked Rocky")
    assert titles[1:] == ["Trending this week", "New on the service"]
    assert [h.film.id for h in rows[1]["results"]] == [outsider]  # only what was watched
    assert [h.film.id for h in rows[2]["results"]] == [newest]
    shown = [h.film.id for r in rows for h in r["results"]]
    assert len(shown) == len(set(shown)) and "rocky-1976" not in shown


def test_a_decayed_training_weighs_recent_interactions_more(tmp_path, engine):
    """``RECOMMENDER_TRAIN_HALF_LIFE_DAYS`` (measured, not adopted: docs/viewer-quality.md):
    an interaction a half-life older than the newest event enters the matrix at 0.5."""
    matrix, users, films = collaborative.interaction_matrix(
        [("a", "x"), ("a", "y"), ("b", "x")], values={("a", "x"): 0.5})
    cell = {(users[i], films[j]): v for (i, j), v in matrix.todok().items()}
    assert cell == {("a", "x"): 0.5, ("a", "y"): 1.0, ("b", "x"): 1.0}
    ids = [f.id for f in engine.index.films]
    events = [(f"u{i}", ids[i % 8], NOW - (i % 2) * 30 * DAY) for i in range(120)]
    trained = collaborative.train(tmp_path, events, ids, half_life_days=30.0)
    model = collaborative.load(trained.path)
    assert model.manifest["parameters"]["half_life_days"] == 30.0
    assert sorted(set(model.popularity.tolist())) == [15.0]  # counts stay counts


def test_popular_now_is_counted_once_per_cache_and_again_after_events(tmp_path, engine):
    store = open_store(f"sqlite:///{tmp_path / 'events.sqlite3'}")
    try:
        personal = Personalizer(store, dataclasses.replace(
            engine.settings, trending_cache_seconds=60), clock=lambda: NOW)
        assert not personal.counts.by_row(engine.index, 30.0).any()
        personal.record([Event("a", "rocky-1976", "like", ts=NOW - DAY),
                         Event("b", "rocky-1976", "like", ts=NOW - 31 * DAY)])
        popular = personal.counts.by_row(engine.index, 30.0)
        row = engine.index.row_of["rocky-1976"]
        assert popular[row] == pytest.approx(np.log1p(0.5 ** (1 / 30) + 0.5 ** (31 / 30)))
        store.add([Event("c", "rocky-ii-1979", "like", ts=NOW)])  # another process's
        assert personal.counts.by_row(engine.index, 30.0) is popular  # within the cache
    finally:
        store.close()
