"""The ranking's sources (recommender/viewers/sources/) against their one contract, each
with the real engine, a real event store and a real trained model; and the blend
(recommender/viewers/blend.py) on small arrays whose answer is known."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from recommender.search.query import QueryOptions
from recommender.storage import Event, open_store
from recommender.viewers import collaborative
from recommender.viewers.blend import blend, rank
from recommender.viewers.personal import DAY, Personalizer
from recommender.viewers.sources import SOURCES, Context, RankingWeights, Scores, learners
from tests.conftest import ROCKY_IDS

NOW = time.time()


@pytest.fixture
def world(tmp_path, engine, settings):
    """Viewers who each watched two Rocky films, a model learnt from them, what is popular
    this week, one film new on the service; a viewer who liked Rocky and disliked one."""
    store = open_store(f"sqlite:///{tmp_path / 'events.sqlite3'}")
    films = [f.id for f in engine.index.films]
    events = [Event(f"v{i}", f, "rating", 4.5, ts=NOW - 30 * DAY + i)
              for i in range(60) for f in (ROCKY_IDS[i % 5], ROCKY_IDS[(i + 1) % 5])]
    store.add(events)
    trained = collaborative.train(tmp_path, ((e.user, e.film_id, e.ts) for e in events), films,
                                  learners=learners())
    model = collaborative.load(trained.path)
    outsider = next(f for f in films if f not in ROCKY_IDS)
    new = next(f for f in films if f not in model.row_of)
    store.add([Event(f"now{i}", outsider, "like", ts=NOW - DAY + i) for i in range(20)])
    store.add([Event("ann", "rocky-1976", "like", ts=NOW - 3600),
               Event("ann", "lucky-you-2007", "dislike", ts=NOW - 1800)])
    personal = Personalizer(store, settings, clock=lambda: NOW, model=lambda: model,
                            arrivals=lambda index: {new: NOW - DAY})
    profile = personal.profile("ann")
    liked = {f: w for f, w in profile.liked.items() if f in engine.index.row_of}
    yield personal, Context(engine, profile, NOW, settings, liked), new
    store.close()


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_source_keeps_the_contract(world, engine, name):
    personal, context, _ = world
    source = personal.sources[name]
    assert source.name == name
    scores = source.scores(context)
    assert isinstance(scores, Scores)
    values = scores.values
    assert values.shape == (len(engine.index),) and values.dtype == np.float32
    assert not np.isnan(values).any() and not np.isposinf(values).any()
    for row in range(len(engine.index)):
        reasons = scores.reason(row)
        assert reasons and all(isinstance(r["because"], str) for r in reasons)
    finite = values[np.isfinite(values)] if scores.imputed is None else \
        values[~scores.imputed]
    if name != "new":  # the others in standard units over what they score themselves
        assert abs(float(finite.mean())) < 1e-4 and abs(float(finite.std()) - 1) < 1e-3


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_a_source_with_nothing_for_a_newcomer_says_none_or_scores_everyone_alike(
        world, engine, settings, name):
    """A viewer with no history: the model, what comes next and the content have nothing
    (None); popular now and the new films are the same for everyone."""
    personal, _, _ = world
    empty = Context(engine, personal.profile("nobody"), NOW, settings, {})
    scores = personal.sources[name].scores(empty)
    if name in ("collaborative", "content", "next"):
        assert scores is None
    else:
        assert scores is not None


def test_the_ranked_page_honours_filters_leaves_seen_films_out_and_has_no_film_twice(
        world, engine):
    personal, context, new = world
    weights = RankingWeights(new_slots=2, next=0.5)
    scores = personal.scores(context, weights)
    assert set(scores) == set(SOURCES)
    options = QueryOptions(k=5, genres=("Drama",)).validate(100)
    page = rank(engine, scores, weights, options, ("rocky-ii-1979",))
    ids = [hit.film.id for hit in page]
    assert len(ids) == len(set(ids)) and "rocky-ii-1979" not in ids
    assert all("drama" in {g.lower() for g in hit.film.genres} for hit in page)
    assert all(hit.reasons for hit in page)
    everything = rank(engine, scores, weights, QueryOptions(k=8).validate(100), ())
    assert new in [hit.film.id for hit in everything]  # a place kept for the new film
    placed = next(hit for hit in everything if hit.film.id == new)
    assert placed.reasons[0]["because"] == "new_on_the_service"


def _scores(values: list[float], imputed: list[bool] | None = None,
            scale: float = 1.0) -> Scores:
    return Scores(np.array(values, dtype=np.float32), lambda row: [{"because": "x"}],
                  scale=scale,
                  imputed=None if imputed is None else np.array(imputed, dtype=bool))


def test_the_blend_adds_weighted_scores():
    scores = {"collaborative": _scores([1.0, -1.0, 0.0, -math.inf], [False, False, True, True]),
              "content": _scores([0.0, 1.0, -1.0, 2.0]),
              "popular": _scores([2.0, 0.0, 0.0, 0.0], scale=0.5)}
    weights = RankingWeights(collaborative=1.0, content=0.5, cold_content=1.0, popular=2.0)
    # collaborative + 0.5 content (+ 1.0 content again where imputed) + 2 * 0.5 popular
    assert blend(scores, weights).tolist() == [3.0, -0.5, -1.5, -math.inf]


def test_the_blend_of_one_source_alone_is_that_source():
    scores = {"collaborative": _scores([1.0, -1.0, 0.5], [False, False, True]),
              "content": _scores([5.0, 5.0, 5.0]), "popular": _scores([9.0, 0.0, 0.0])}
    alone = RankingWeights(popular=3.0, new_slots=2).alone("collaborative")
    assert (alone.content, alone.popular, alone.new_slots) == (0.0, 0.0, 0)
    assert blend(scores, alone).tolist() == [1.0, -1.0, 0.5]


def test_cold_content_counts_only_where_content_counts():
    scores = {"collaborative": _scores([0.0, 0.0], [False, True]),
              "content": _scores([1.0, 1.0])}
    assert blend(scores, RankingWeights(content=0.0, cold_content=1.0)).tolist() == [0, 0]
    assert blend(scores, RankingWeights(content=0.5, cold_content=1.0)).tolist() == \
        [0.5, 1.5]


def test_a_weight_out_of_its_bounds_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"ranking weight popular must be within 0\.0\.\.100\.0"):
        RankingWeights(popular=-1.0).check()
    assert RankingWeights().check() == RankingWeights()


def test_train_writes_the_next_matrix_and_a_version_without_it_still_loads(tmp_path, engine):
    """The "what comes next" matrix is trained with the model and checked with it; a
    version trained before it (no next.npy) loads, and that source then says nothing."""
    import json
    import shutil

    films = [f.id for f in engine.index.films]
    events = [(f"v{i}", f, NOW - i) for i in range(60)
              for f in (ROCKY_IDS[i % 5], ROCKY_IDS[(i + 1) % 5])]
    trained = collaborative.train(tmp_path / "a", events, films, learners=learners())
    model = collaborative.load(trained.path)
    following = model.learned["next"]  # learnt by the source's own `learn`, written as next.npy
    assert following.shape == model.weights.shape and (trained.path / "next.npy").is_file()
    assert following.flags["C_CONTIGUOUS"]  # a row read touches its own pages, not all
    assert float(np.abs(np.diag(following)).max()) == 0.0
    together = following[model.row_of[ROCKY_IDS[0]], model.row_of[ROCKY_IDS[1]]]
    apart = following[model.row_of[ROCKY_IDS[0]], model.row_of[ROCKY_IDS[2]]]
    assert together > 0 and apart == 0  # only neighbours in the log share viewers
    old = tmp_path / "old"
    shutil.copytree(trained.path, old)
    (old / "next.npy").unlink()
    manifest = json.loads((old / collaborative.MANIFEST).read_text())
    del manifest["files"]["next.npy"]
    (old / collaborative.MANIFEST).write_text(json.dumps(manifest))
    assert "next" not in collaborative.load(old).learned


def test_what_comes_next_lifts_the_films_watched_after_the_viewers_last_and_says_so(
        world, engine, settings):
    """Weighted in, the viewer's newest film speaks for what follows it: a film that
    shares viewers with it rises, and says it is there because they just watched it."""
    import dataclasses

    personal, _, _ = world
    personal.store.add([Event("bea", "rocky-iii-1982", "rating", 5.0, ts=NOW - 60)])
    off = personal.recommend(engine, "bea", QueryOptions(k=3))
    personal.settings = dataclasses.replace(settings, next_weight=5.0)
    on = personal.recommend(engine, "bea", QueryOptions(k=3))
    neighbours = {"rocky-ii-1979", "rocky-iv-1985"}  # next to Rocky III in the log
    assert neighbours <= {h.film.id for h in on.results}
    assert any(h.reasons[0] == {"because": "just_watched", "film": h.reasons[0]["film"]}
               and h.reasons[0]["film"]["id"] == "rocky-iii-1982" for h in on.results)
    assert all(h.reasons[0]["because"] != "just_watched" for h in off.results)
