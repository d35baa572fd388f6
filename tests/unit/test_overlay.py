"""The index of the moment: a built version with the live changes on top, the films out of
their window left out, and every question of the engine asked of it."""

from __future__ import annotations

import time

import pytest

from recommender.catalog.changes import Change, film_from_body, patched
from recommender.errors import FilmNotFound, TitleNotFound
from recommender.index.overlay import Terms, apply_changes
from recommender.search.engine import Engine, QueryOptions

NOW = time.time()
MARS = film_from_body("rumbokseren-2026", {
    "title": "Rumbokseren", "year": 2026,
    "synopsis": "En ung bokser fra Mars træner hårdt til boksekampen om solsystemets "
                "mesterskab mod en frygtet champion."})


def _change(seq, film_id, film, embedder):
    vector = embedder.encode([film.synopsis])[0] if film is not None else None
    return Change(seq, film_id, film, vector, embedder.name, NOW)


def _served(engine: Engine, changes: dict, now: float = NOW) -> Engine:
    index = apply_changes(engine.index, changes, now, Terms(engine.index), 1)
    return Engine(index, engine.embedder, engine.settings)


def _ids(page) -> list[str]:
    return [hit.film.id for hit in page.results]


def test_no_change_and_no_window_serves_the_version_itself(engine):
    assert apply_changes(engine.index, {}, NOW, Terms(engine.index), 1) is engine.index


def test_an_added_film_is_found_by_meaning_words_title_and_has_neighbours(engine, embedder):
    live = _served(engine, {MARS.id: _change(1, MARS.id, MARS, embedder)})
    assert len(live.index) == len(engine.index) + 1
    assert _ids(live.search("bokser fra Mars", QueryOptions(k=1))) == [MARS.id]
    assert _ids(live.search("solsystemets", QueryOptions(k=1, mode="lexical"))) == [MARS.id]
    assert MARS.id in _ids(live.search("en bokser fra en anden planet",
                                       QueryOptions(k=3, mode="semantic")))
    assert live.similar_by_title("Rumbokseren").query["resolved"]["id"] == MARS.id
    similar = _ids(live.similar(MARS.id, QueryOptions(k=3)))
    assert similar and MARS.id not in similar and similar[0].startswith("rocky")
    assert MARS.id in _ids(live.recommend(["Rocky"], options=QueryOptions(k=20)))
    assert live.index.overlay["added"] == 1 and live.neighbours is None
    assert not live.wants_table  # rows of the moment: the pipeline answers


def test_a_withdrawn_film_is_in_no_answer(engine, embedder):
    live = _served(engine, {"rocky-1976": _change(1, "rocky-1976", None, embedder)})
    with pytest.raises(FilmNotFound):
        live.film("rocky-1976")
    with pytest.raises(FilmNotFound):
        live.similar("rocky-1976")
    with pytest.raises(TitleNotFound) as caught:
        live.similar_by_title("Rocky")
    assert "rocky-1976" not in {s["id"] for s in caught.value.suggestions}
    everything = QueryOptions(k=len(live.index))
    for page in (live.search("boxer", everything), live.similar("rocky-ii-1979", everything),
                 live.recommend(["Rocky II"], options=everything),
                 live.recommend_weighted({"rocky-ii-1979": 1.0}, options=everything)):
        assert "rocky-1976" not in _ids(page)
    assert "rocky-1976" not in {f.id for f in live.films(0, 100)[1]}
    assert live.index.overlay["withdrawn"] == 1


def test_a_changed_film_is_found_by_its_new_words_not_its_old(engine, embedder):
    film = patched(engine.film("lucky-you-2007"), {
        "title": "Lucky You (restored)", "synopsis": "An astronaut plays poker on the moon."})
    live = _served(engine, {film.id: _change(1, film.id, film, embedder)})
    assert len(live.index) == len(engine.index)
    assert _ids(live.search("poker on the moon", QueryOptions(k=1))) == [film.id]
    assert live.film(film.id).title == "Lucky You (restored)"
    assert live.similar_by_title("Lucky You (restored)").query["match"] == "exact"


def test_a_film_out_of_its_window_is_hidden_until_its_window(engine, embedder):
    later = patched(MARS, {"available_from": "2030-01-01T00:00:00Z"})
    ended = patched(engine.film("rocky-v-1990"), {"available_until": "2020-01-01T00:00:00Z"})
    changes = {later.id: _change(1, later.id, later, embedder),
               ended.id: _change(2, ended.id, ended, embedder)}
    live = _served(engine, changes)
    for film_id in (later.id, ended.id):
        with pytest.raises(FilmNotFound):
            live.film(film_id)
    with pytest.raises(TitleNotFound):
        live.similar_by_title("Rumbokseren")
    assert live.index.overlay["hidden"] == 2
    assert live.index.overlay["next_window_change_at"] == later.window()[0]
    then = _served(engine, changes, now=later.window()[0])  # the clock reaches the window
    assert then.film(later.id) and later.id in {f.id for f in then.index.films}


def test_a_change_without_a_vector_is_refused_not_served_blind(engine):
    with pytest.raises(ValueError, match="no vector"):
        apply_changes(engine.index, {MARS.id: Change(1, MARS.id, MARS, None, None, NOW)},
                      NOW, Terms(engine.index), 1)


def test_a_film_arrives_when_the_live_catalog_adds_it_or_its_window_opens(engine, embedder):
    from recommender.viewers.recency import arrived

    assert arrived(engine.index) == {}  # the seeds say nothing of when they came
    opening = film_from_body("aabner-2026", {
        "title": "Åbner", "year": 2026, "available_from": "2026-01-02T00:00:00Z",
        "synopsis": "En film om en biograf der åbner igen efter mange år."})
    live = _served(engine, {MARS.id: _change(1, MARS.id, MARS, embedder),
                            opening.id: _change(2, opening.id, opening, embedder),
                            "rocky-1976": _change(3, "rocky-1976", patched(
                                engine.film("rocky-1976"), {"year": 1976}), embedder)},
                   now=max(NOW, opening.window()[0] + 1))
    when = arrived(live.index)
    assert when[MARS.id] == NOW  # added now; a replaced film is not new
    assert "rocky-1976" not in when
    assert when[opening.id] == max(NOW, opening.window()[0])
