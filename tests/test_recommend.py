"""Recommendations from several liked and disliked films, filters, diversity,
explanations and batches: engine and HTTP, real model and index."""

import numpy as np
import pytest

from recommender.errors import InvalidParameter, NothingToRecommendFrom
from recommender.index.lexical import Analyzer
from recommender.search.query import QueryOptions
from tests.conftest import ROCKY_IDS, answer

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
    assert {r.film.id for r in plain.results} <= set(ROCKY_IDS)
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


def _error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"]["code"] == code
    return body["error"]


def test_post_recommend_contract_example(client):
    r = client.post("/recommend", json={
        "positive": ["Rocky", {"id": "rocky-ii-1979"}], "negative": ["Lucky You"],
        "query": "bokser", "k": 10, "offset": 0,
        "filters": {"year_min": 1970, "year_max": 1990, "genres": ["Drama"]},
        "exclude": ["rocky-v-1990"]})
    assert r.status_code == 200
    body = r.get_json()
    assert [p["id"] for p in body["query"]["positive"]] == ["rocky-1976", "rocky-ii-1979"]
    assert body["query"]["positive"][1]["match"] == "id"
    ids = [f["id"] for f in body["results"]]
    assert ids[:2] and set(ids[:2]) == {"rocky-iii-1982", "rocky-iv-1985"}
    assert not {"rocky-1976", "rocky-ii-1979", "rocky-v-1990", "lucky-you-2007"} & set(ids)


def test_get_routes_take_the_same_options(client):
    body = client.get("/films/rocky-1976/similar?k=3&diversity=1&explain=true").get_json()
    assert any(f["id"] not in ROCKY_IDS for f in body["results"])
    assert body["results"][0]["explanation"]["shared_words"]
    body = client.get("/search?q=kamp&genres=Romance,family&k=5").get_json()
    assert {f["id"] for f in body["results"]} == {"lucky-you-2007", "the-karate-kid-1984"}
    body = client.get("/similar?title=Rocky&exclude=rocky-ii-1979&exclude=rocky-v-1990"
                      "&min_score=0.5").get_json()
    assert not {"rocky-ii-1979", "rocky-v-1990"} & {f["id"] for f in body["results"]}


@pytest.mark.parametrize("body, parameter", [
    ({"positive": ["Rocky"], "k": 0}, "k"),
    ({"positive": ["Rocky"], "k": "5"}, "k"),
    ({"positive": ["Rocky"], "offset": -1}, "offset"),
    ({"positive": ["Rocky"], "strategy": "median"}, "strategy"),
    ({"positive": ["Rocky"], "mode": "fuzzy"}, "mode"),
    ({"positive": ["Rocky"], "diversity": 1.5}, "diversity"),
    ({"positive": ["Rocky"], "diversity": "high"}, "diversity"),
    ({"positive": ["Rocky"], "min_score": "x"}, "min_score"),
    ({"positive": ["Rocky"], "explain": "yes"}, "explain"),
    ({"positive": ["Rocky"], "exclude": "rocky-v-1990"}, "exclude"),
    ({"positive": ["Rocky"], "filters": {"year_min": "1980"}}, "filters.year_min"),
    ({"positive": ["Rocky"], "filters": {"genres": "Drama"}}, "filters.genres"),
    ({"positive": ["Rocky"], "filters": {"genre": ["Drama"]}}, "filters.genre"),
    ({"positive": ["Rocky"], "kk": 1}, "kk"),
    ({"positive": "Rocky"}, "positive"),
    ({"positive": [7]}, "positive"),
    ({"negative": ["Rocky"]}, "positive"),
    ({}, "positive"),
    ({"positive": ["Rocky"] * 51}, "positive"),
    ({"query": ""}, "query"),
    ([1, 2], "body"),
])
def test_bad_bodies_are_400_naming_the_parameter(client, body, parameter):
    error = _error(client.post("/recommend", json=body), 400, "invalid_parameter")
    assert error["parameter"] == parameter
    assert parameter.split(".")[-1] in error["message"] or parameter == "body"


@pytest.mark.parametrize("url, parameter", [
    ("/search?q=x&diversity=2", "diversity"), ("/search?q=x&diversity=abc", "diversity"),
    ("/search?q=x&min_score=nan", "min_score"), ("/search?q=x&explain=maybe", "explain"),
    ("/search?q=x&genres=,", None),
])
def test_bad_get_options(client, url, parameter):
    r = client.get(url)
    if parameter is None:
        assert r.status_code == 200  # an empty list is no filter
    else:
        assert _error(r, 400, "invalid_parameter")["parameter"] == parameter


def test_recommend_needs_json(client):
    _error(client.post("/recommend", data="positive=Rocky",
                       content_type="application/x-www-form-urlencoded"),
           415, "unsupported_media_type")
    error = _error(client.post("/recommend", data="{not json", content_type="application/json"),
                   400, "invalid_json")
    assert "line 1, column 2" in error["message"]
    _error(client.get("/recommend"), 405, "method_not_allowed")


def test_recommend_body_too_large_is_413(client):
    r = client.post("/recommend", data='{"query": "' + "x" * 1_100_000 + '"}',
                    content_type="application/json")
    error = _error(r, 413, "payload_too_large")
    assert "1048576 bytes" in error["message"] and "RECOMMENDER_MAX_BODY_BYTES" in error["message"]


def test_nothing_usable_over_http_is_404_with_suggestions(client):
    error = _error(client.post("/recommend", json={"positive": ["Rokcy Balboa 9"]}), 404,
                   "title_not_found")
    assert error["unresolved"][0]["suggestions"]


def test_batch_answers_each_as_if_alone(client):
    requests = [{"positive": ["Rocky"], "k": 2}, {"positive": ["Zzyzx"]}, {"k": 0},
                {"query": "poker", "k": 1}]
    body = client.post("/recommend/batch", json={"requests": requests}).get_json()
    statuses = [r["status"] for r in body["responses"]]
    assert statuses == [200, 404, 400, 200]
    for request, response in zip(requests, body["responses"], strict=True):
        alone = client.post("/recommend", json=request)
        assert alone.status_code == response["status"]
        assert answer(alone.get_json()) == answer(response["body"])


def test_batch_of_33_is_refused(client):
    error = _error(client.post("/recommend/batch",
                               json={"requests": [{"query": "poker"}] * 33}),
                   400, "invalid_parameter")
    assert error["parameter"] == "requests" and "33" in error["message"]
    assert "32" in error["message"]
    error = _error(client.post("/recommend/batch", json={"requests": []}), 400,
                   "invalid_parameter")
    _error(client.post("/recommend/batch", json={"reqs": []}), 400, "invalid_parameter")
