"""Recommendations from several liked and disliked films, filters, diversity,
explanations and batches: engine and HTTP, real model and index."""

import numpy as np
import pytest

from recommender.errors import InvalidParameter, NothingToRecommendFrom
from recommender.index.lexical import Analyzer
from recommender.search.query import QueryOptions
from tests.conftest import ROCKY_IDS

OTHER_ROCKYS = [i for i in ROCKY_IDS if i != "rocky-1976"]


@pytest.mark.parametrize("strategy", ["average", "best_score"])
@pytest.mark.parametrize("mode", ["semantic", "lexical", "hybrid"])
def test_liking_rocky_and_disliking_lucky_you_ranks_the_rocky_films_first(engine, strategy,
                                                                          mode):
    page = engine.recommend(["Rocky"], ["Lucky You"], strategy=strategy,
                            options=QueryOptions(k=10, mode=mode))
    ids = [r.film.id for r in page.results]
    assert ids[:4] and set(ids[:4]) == set(OTHER_ROCKYS)
    assert "rocky-1976" not in ids and "lucky-you-2007" not in ids  # neither liked nor disliked


def test_disliking_moves_films_like_the_disliked_one_down(engine):
    options = QueryOptions(k=7, mode="semantic")
    liked = {r.film.id: r.score for r in engine.recommend(["The Karate Kid"],
                                                          options=options).results}
    disliked = {r.film.id: r.score for r in engine.recommend(
        ["The Karate Kid"], ["Chariots of Fire"], options=options).results}
    assert "chariots-of-fire-1981" in liked and "chariots-of-fire-1981" not in disliked
    vec, row = engine.index.vector, engine.index.row_of
    chariots = vec(row["chariots-of-fire-1981"])
    films = sorted(disliked, key=lambda i: float(vec(row[i]) @ chariots))
    drops = [liked[i] - disliked[i] for i in films]
    # the more a film is like the disliked one, the more its score drops
    assert np.corrcoef(np.arange(len(films)), drops)[0, 1] > 0.5
    assert np.mean(drops[3:]) > np.mean(drops[:3])


def test_best_score_is_the_best_liked_similarity_minus_the_best_disliked(engine):
    page = engine.recommend(["Rocky", "Lucky You"], ["Chariots of Fire"], strategy="best_score",
                            options=QueryOptions(k=5, mode="semantic"))
    vec = engine.index.vector
    row = engine.index.row_of
    for hit in page.results:
        v = vec(row[hit.film.id])
        expected = max(v @ vec(row["rocky-1976"]), v @ vec(row["lucky-you-2007"])) \
            - v @ vec(row["chariots-of-fire-1981"])
        assert hit.score == pytest.approx(float(expected), abs=1e-5)


def test_query_text_steers(engine):
    page = engine.recommend(query="poker", options=QueryOptions(k=1))
    assert page.results[0].film.id == "lucky-you-2007"
    page = engine.recommend(["Rocky"], query="Ivan Drago", options=QueryOptions(k=1))
    assert page.results[0].film.id == "rocky-iv-1985"


def test_unresolvable_items_are_listed_not_fatal(engine):
    page = engine.recommend(["Rocky", "Rocky 9", {"id": "no-such-film"}], ["Zzyzx"])
    assert [p["id"] for p in page.query["positive"]] == ["rocky-1976"]
    unresolved = {(u["list"], u["index"]): u for u in page.query["unresolved"]}
    assert unresolved[("positive", 1)]["code"] == "title_not_found"
    assert unresolved[("positive", 1)]["suggestions"][0]["id"] == "rocky-1976"
    assert unresolved[("positive", 2)]["code"] == "not_found"
    assert unresolved[("negative", 0)]["item"] == "Zzyzx"
    assert page.results


def test_nothing_usable_is_404(engine):
    with pytest.raises(NothingToRecommendFrom) as info:
        engine.recommend(["Rocky 9"])
    assert info.value.status == 404 and info.value.code == "title_not_found"
    with pytest.raises(NothingToRecommendFrom) as info:
        engine.recommend([{"id": "nope"}])
    assert info.value.code == "not_found"


def test_excluding_three_rocky_films_returns_the_rest(engine):
    page = engine.recommend(["Rocky"], options=QueryOptions(
        k=10, exclude=("rocky-ii-1979", "rocky-iii-1982", "rocky-iv-1985", "unknown-id")))
    ids = [r.film.id for r in page.results]
    assert set(ids) == {"rocky-v-1990", "the-karate-kid-1984", "chariots-of-fire-1981",
                        "lucky-you-2007"}
    assert ids[0] == "rocky-v-1990"
    assert page.query["exclude_unknown"] == ["unknown-id"]


@pytest.mark.parametrize("mode", ["semantic", "lexical", "hybrid"])
def test_year_filter_fills_k_where_the_catalog_allows(engine, mode):
    in_80s = {f.id for f in engine.index.films if 1980 <= f.year <= 1989}
    page = engine.recommend(query="boksning", options=QueryOptions(
        k=10, year_min=1980, year_max=1989, mode="semantic" if mode == "lexical" else mode))
    assert {r.film.id for r in page.results} == in_80s  # all four, none outside
    page = engine.recommend(["Rocky"], options=QueryOptions(k=2, year_min=1980, year_max=1989,
                                                            mode=mode))
    assert len(page.results) == 2
    assert all(1980 <= r.film.year <= 1989 for r in page.results)


def test_genre_and_language_filters(engine):
    page = engine.search("kamp", QueryOptions(k=10, genres=("romance", "Family")))
    assert {r.film.id for r in page.results} == {"lucky-you-2007", "the-karate-kid-1984"}
    assert engine.search("kamp", QueryOptions(k=10, language="en")).results == []
    assert len(engine.search("kamp", QueryOptions(k=10, language="da")).results) == 8


def test_diversity_one_puts_a_non_rocky_film_in_the_top_3(engine):
    plain = engine.similar("rocky-1976", QueryOptions(k=3))
    assert len(plain.results) == 3 and {r.film.id for r in plain.results} <= set(ROCKY_IDS)
    diverse = engine.similar("rocky-1976", QueryOptions(k=3, diversity=1.0))
    ids = [r.film.id for r in diverse.results]
    assert ids[0] == plain.results[0].film.id  # the most relevant stays first
    assert set(ids) - set(ROCKY_IDS)


def test_min_score_and_paging(engine):
    page = engine.similar("rocky-1976", QueryOptions(k=10, mode="semantic", min_score=0.7))
    assert [r.film.id for r in page.results] and all(r.score >= 0.7 for r in page.results)
    assert len(page.results) == 4 and not page.has_more
    first = engine.recommend(["Rocky"], options=QueryOptions(k=2))
    second = engine.recommend(["Rocky"], options=QueryOptions(k=2, offset=2))
    assert first.has_more and second.has_more
    assert not {r.film.id for r in first.results} & {r.film.id for r in second.results}


def test_explain_names_words_shared_by_both_synopses(engine):
    page = engine.recommend(["Rocky"], options=QueryOptions(k=3, explain=True))
    analyzer = Analyzer("da")
    liked = engine.film("rocky-1976").synopsis
    for hit in page.results:
        why = hit.explanation
        assert why["closest_liked"]["id"] == "rocky-1976"
        assert why["semantic"] == pytest.approx(hit.semantic, abs=1e-4)
        assert why["shared_words"]
        for word in why["shared_words"]:
            assert word in hit.film.synopsis.casefold()
            assert analyzer.terms(word)[0] in set(analyzer.terms(liked))
    assert "creed" in page.results[0].explanation["shared_words"]


def test_explain_on_search_names_the_query_words(engine):
    hit = engine.search("Ivan Drago", QueryOptions(k=1, explain=True)).results[0]
    assert hit.explanation["query_words"] == ["drago", "ivan"]


@pytest.mark.parametrize("kwargs, parameter", [
    ({"strategy": "median"}, "strategy"),
    ({"positive": [42]}, "positive"),
    ({"positive": [{"id": "x", "title": "y"}]}, "positive"),
    ({"positive": ["Rocky"], "negative": [{"name": "x"}]}, "negative"),
    ({"query": "   "}, "query"),
])
def test_bad_recommend_arguments(engine, kwargs, parameter):
    with pytest.raises(InvalidParameter) as info:
        engine.recommend(**kwargs)
    assert info.value.parameter == parameter


# -- over HTTP ----------------------------------------------------------------------
