"""POST /recommend and its batch, and the GET routes' options, over the Flask client."""

import pytest

from tests.conftest import ROCKY_IDS, answer


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
    assert "1,048,576 bytes" in error["message"]
    assert "RECOMMENDER_MAX_BODY_BYTES" in error["message"]
    assert (error["limit"], error["setting"]) == (1048576, "RECOMMENDER_MAX_BODY_BYTES")


def test_nothing_usable_over_http_is_404_with_suggestions(client):
    error = _error(client.post("/recommend", json={"positive": ["Rokcy 9"]}), 404,
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
