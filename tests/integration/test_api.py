"""The HTTP API through Flask's test client, over the real seed index and model."""

import pytest

from recommender.api.app import create_app
from recommender.catalog.films import load_catalog
from recommender.config import Settings
from recommender.distribution.live import open_live
from recommender.embedding.embedder import Embedder
from recommender.index.build import build_index
from tests.conftest import ROCKY_IDS


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "ok"
    assert body["films"] == 8
    assert body["model"] == "all-MiniLM-L6-v2"
    assert body["index"]["dimension"] == 384


def test_films_list_and_paging(client):
    body = client.get("/films").get_json()
    assert body["total"] == 8
    assert [f["id"] for f in body["films"]][:2] == ["rocky-1976", "rocky-ii-1979"]
    page = client.get("/films?offset=6&limit=5").get_json()
    assert [f["id"] for f in page["films"]] == ["rocky-v-1990", "lucky-you-2007"]


def test_one_film_has_its_synopsis(client):
    r = client.get("/films/chariots-of-fire-1981")
    assert r.status_code == 200
    body = r.get_json()
    assert body["aliases"] == ["Triumfens timer"]
    assert body["synopsis"].startswith("Harold Abrahams vil bevise")
    assert r.content_type == "application/json"
    assert "æ".encode() in client.get("/films/rocky-1976").data  # UTF-8, not \u00e6


@pytest.mark.parametrize("rocky", ROCKY_IDS)
def test_similar_by_id(client, rocky):
    body = client.get(f"/films/{rocky}/similar?k=4").get_json()
    ids = [f["id"] for f in body["results"]]
    assert rocky not in ids
    assert len(set(ids) & set(ROCKY_IDS)) >= 3
    assert set(body["results"][0]) >= {"id", "title", "year", "score"}


@pytest.mark.parametrize("title, film_id, match", [
    ("rocky 2", "rocky-ii-1979", "exact"),
    ("Triumfens timer", "chariots-of-fire-1981", "alias"),
    ("Rokcy", "rocky-1976", "fuzzy"),
])
def test_similar_by_title(client, title, film_id, match):
    r = client.get("/similar", query_string={"title": title, "k": 3})
    assert r.status_code == 200
    query = r.get_json()["query"]
    assert query["resolved"]["id"] == film_id
    assert query["match"] == match


def test_search(client):
    body = client.get("/search?q=karate").get_json()
    assert body["results"][0]["id"] == "the-karate-kid-1984"
    assert body["query"] == {"q": "karate", "mode": "hybrid", "k": 10, "offset": 0}
    assert len(body["results"]) == 8


@pytest.mark.parametrize("mode", ["semantic", "lexical", "hybrid"])
def test_search_modes(client, mode):
    body = client.get(f"/search?q=poker&mode={mode}&k=3").get_json()
    assert body["query"]["mode"] == mode
    assert body["results"][0]["id"] == "lucky-you-2007"
    parts = {"semantic": {"semantic"}, "lexical": {"lexical"},
             "hybrid": {"semantic", "lexical"}}[mode]
    assert set(body["results"][0]["scores"]) == parts


def test_similar_by_title_takes_a_mode(client):
    body = client.get("/similar?title=Rocky IV&mode=lexical&k=2").get_json()
    assert body["query"]["mode"] == "lexical"
    assert len(body["results"]) == 2
    assert {f["id"] for f in body["results"]} <= {"rocky-1976", "rocky-ii-1979",
                                                   "rocky-iii-1982", "rocky-v-1990"}


def test_year_filter_on_http(client):
    body = client.get("/search?q=boxer&year_min=1980&year_max=1989").get_json()
    assert {f["year"] for f in body["results"]} <= set(range(1980, 1990))
    assert len(body["results"]) == 4


def _error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize("url, parameter", [
    ("/search?q=karate&k=0", "k"),
    ("/search?q=karate&k=1000", "k"),
    ("/search?q=karate&k=abc", "k"),
    ("/search?q=", "q"),
    ("/search?q=%20%20", "q"),
    ("/search", "q"),
    ("/search?q=karate&offset=-1", "offset"),
    ("/search?q=karate&year_min=nineteen", "year_min"),
    ("/search?q=karate&kk=5", "kk"),
    ("/similar", "title"),
    ("/similar?title=Rocky&year=abc", "year"),
    ("/films/rocky-1976/similar?k=-3", "k"),
    ("/films?limit=0", "limit"),
    ("/search?q=karate&mode=fuzzy", "mode"),
])
def test_bad_parameters_are_400_naming_the_parameter(client, url, parameter):
    error = _error(client.get(url), 400, "invalid_parameter")
    assert error["parameter"] == parameter
    assert parameter in error["message"]


def test_an_empty_year_range_is_an_empty_answer(client):
    body = client.get("/search?q=karate&year_min=2000&year_max=1990").get_json()
    assert body["results"] == [] and body["has_more"] is False


def test_query_of_100_kb_is_refused(client):
    error = _error(client.get("/search", query_string={"q": "boks " * 20_000}), 400,
                   "invalid_parameter")
    assert error["max_length"] == 1000


def test_unknown_film_id_is_404(client):
    _error(client.get("/films/rocky-vii-2030"), 404, "not_found")
    error = _error(client.get("/films/rocky-vii-2030/similar"), 404, "not_found")
    assert error["id"] == "rocky-vii-2030"


def test_unknown_route_is_404(client):
    _error(client.get("/nope"), 404, "not_found")


def test_unknown_title_is_404_with_suggestions(client):
    error = _error(client.get("/similar?title=Rocky 6"), 404, "title_not_found")
    assert 1 <= len(error["suggestions"]) <= 5
    assert error["suggestions"][0]["id"].startswith("rocky")
    error = _error(client.get("/similar?title=Lucky Yuo Poker"), 404, "title_not_found")
    assert error["suggestions"][0]["id"] == "lucky-you-2007"


def test_wrong_method_is_405(client):
    r = client.post("/search?q=karate")
    _error(r, 405, "method_not_allowed")
    assert "GET" in r.headers["Allow"]


@pytest.fixture(scope="module")
def hamlet_app(tmp_path_factory, write_catalog, embedder):
    catalog = write_catalog([
        {"id": "hamlet-1948", "title": "Hamlet", "year": 1948,
         "synopsis": "A Danish prince avenges his father, murdered by his uncle."},
        {"id": "hamlet-1996", "title": "Hamlet", "year": 1996,
         "synopsis": "The prince of Denmark feigns madness to expose the king."},
        {"id": "othello-1995", "title": "Othello", "year": 1995,
         "synopsis": "A general is driven to jealousy by his ensign's lies."},
    ])
    out = tmp_path_factory.mktemp("hamlet") / "idx"
    build_index(load_catalog(catalog), embedder, out, progress=False)
    config = Settings(index=out)
    return create_app(config, live=open_live(config, embedder))


def test_shared_title_is_409_unless_year_picks_one(hamlet_app):
    client = hamlet_app.test_client()
    error = _error(client.get("/similar?title=hamlet"), 409, "ambiguous_title")
    assert [c["year"] for c in error["candidates"]] == [1948, 1996]
    body = client.get("/similar?title=hamlet&year=1996").get_json()
    assert body["query"]["resolved"]["id"] == "hamlet-1996"
    assert body["results"][0]["id"] == "hamlet-1948"


def test_no_index_is_503_with_the_reason(tmp_path):
    config = Settings(index=tmp_path / "missing")
    app = create_app(config, live=open_live(config, Embedder(), load_model=False))
    client = app.test_client()
    error = _error(client.get("/health"), 503, "index_unavailable")
    assert "recommender build" in error["message"]
    _error(client.get("/search?q=karate"), 503, "index_unavailable")
    _error(client.get("/films"), 503, "index_unavailable")


def test_index_of_another_model_is_refused_at_start(settings, embedder):
    other = Settings(index=settings.index, model="/models/multilingual-e5")
    app = create_app(other, live=open_live(other, load_model=False))
    error = _error(app.test_client().get("/health"), 503, "index_unavailable")
    assert "built with model 'all-MiniLM-L6-v2'" in error["message"]
