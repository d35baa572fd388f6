"""The viewer's context and filter expressions on every route, over HTTP, against a SQLite
file and a PostgreSQL server: a film licensed only in Denmark, one rated R, a series that
is an original; what a context forbids is in no answer, what it allows is; a viewer's
stored context (a kids profile) holds until a request overrides it."""

from __future__ import annotations

import dataclasses

import pytest

from recommender.api.app import create_app
from recommender.api.services import viewers
from recommender.distribution.live import LiveIndex

LICENSED = "rocky-1976"  # in Denmark only, from 2000 on
ADULT = "rocky-ii-1979"  # rated R
SERIES = "the-karate-kid-1984"  # a series, an original, with Tom Hanks in it
KIDS = "chariots-of-fire-1981"  # rated G


@pytest.fixture
def client(settings, engine, events_url):
    app = create_app(dataclasses.replace(settings, events_url=events_url,
                                         catalog_poll_seconds=0),
                     live=LiveIndex.serving(engine))
    c = app.test_client()
    for film_id, fields in (
            (LICENSED, {"territories": [{"country": "dk", "from": "2000-01-01T00:00:00Z"}],
                        "maturity": "PG-13"}),
            (ADULT, {"maturity": "R"}),
            (SERIES, {"kind": "TV Show", "maturity": "tv-g", "attributes": {"original": True},
                      "people": [{"name": "Tom Hanks", "role": "cast"}]}),
            (KIDS, {"maturity": "G", "kind": "film"})):
        r = c.patch(f"/films/{film_id}", json=fields)
        assert r.status_code == 200, r.get_json()
    for film in ("rocky-iii-1982", "rocky-iv-1985", "rocky-v-1990", "lucky-you-2007"):
        assert c.patch(f"/films/{film}", json={"maturity": "PG"}).status_code == 200
    # a viewer with a history, so that every per-viewer route has something to go on
    events = [{"user": "ann", "film": {"id": f}, "type": "like"}
              for f in ("rocky-iii-1982", "rocky-iv-1985")]
    events += [{"user": f"v{i}", "film": {"id": f}, "type": "view"}
               for i in range(5) for f in (LICENSED, ADULT, SERIES, "rocky-iii-1982")]
    assert c.post("/events", json={"events": events}).status_code == 200
    yield c
    if viewers(app).personal is not None:
        viewers(app).personal.store.close()


def _ids(c, path: str, method: str = "get", body=None) -> set[str]:
    """Every film id an answer names, wherever in it."""
    r = c.get(path) if method == "get" else c.post(path, json=body)
    assert r.status_code == 200, (path, r.get_json())
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("id"), str) and "title" in node:
                found.add(node["id"])
            for key, value in node.items():
                if key not in ("query", "because"):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(r.get_json())
    return found


def _every_route(c, context: str, body_context: dict) -> set[str]:
    q = f"k=8&{context}"
    seen = set()
    for path in (f"/films?limit=100&{context}", f"/map?{context}",
                 f"/films/rocky-iii-1982/similar?{q}", f"/similar?title=Rocky+III&{q}",
                 f"/search?q=bokser&{q}", f"/users/ann/recommendations?{q}",
                 f"/users/ann/rows?k=8&{context}", f"/trending?{q}",
                 f"/films/rocky-iii-1982/also-liked?{q}"):
        seen |= _ids(c, path)
    body = {"positive": ["Rocky III"], "k": 8, "context": body_context}
    seen |= _ids(c, "/recommend", "post", body)
    seen |= _ids(c, "/recommend/batch", "post", {"requests": [body]})
    return seen - {"rocky-iii-1982"}  # the source of a few routes, named in "resolved"


def test_a_context_keeps_what_it_forbids_out_of_every_route(client):
    sweden_ten = _every_route(client, "country=SE&max_age=10", {"country": "SE", "max_age": 10})
    assert LICENSED not in sweden_ten  # not licensed in Sweden
    assert ADULT not in sweden_ten  # R is 17
    assert KIDS in sweden_ten and SERIES in sweden_ten
    denmark = _every_route(client, "country=DK", {"country": "DK"})
    assert {LICENSED, ADULT, SERIES, KIDS} <= denmark
    nowhere = _every_route(client, "", {})  # no country: never a film licensed elsewhere
    assert LICENSED not in nowhere and ADULT in nowhere


def test_ready_probes_with_the_catalogs_first_film_whatever_its_territories(client):
    first = client.get("/films?limit=1").get_json()["films"]
    assert [f["id"] for f in first] == [ADULT]  # no country: the first one licensed everywhere
    assert client.get("/films?limit=1&country=DK").get_json()["films"][0]["id"] == LICENSED
    assert client.get("/ready").status_code == 200


def test_a_film_asked_for_outside_its_context_says_why(client):
    r = client.get(f"/films/{LICENSED}?country=SE")
    assert r.status_code == 404
    assert r.get_json()["error"] | {"message": ""} == {
        "code": "film_not_available", "id": LICENSED, "reason": "territory", "message": ""}
    r = client.get(f"/films/{ADULT}?max_age=7")
    assert r.status_code == 404 and r.get_json()["error"]["reason"] == "maturity"
    film = client.get(f"/films/{SERIES}?country=DK").get_json()
    assert film["kind"] == "series" and film["maturity"] == "TV-G"
    assert film["people"] == [{"name": "Tom Hanks", "role": "cast"}]
    assert film["attributes"] == {"original": True}
    r = client.get(f"/films/{LICENSED}/similar?country=SE")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "film_not_available"


def test_a_stored_kids_profile_holds_until_a_request_overrides_it(client):
    r = client.put("/users/kid/", json={"country": "DK", "max_age": 7})
    assert r.status_code in (404, 405)  # a trailing slash is not the viewer
    r = client.put("/users/kid", json={"country": "dk", "max_age": 7})
    assert r.status_code == 200 and r.get_json() == {"user": "kid", "country": "DK",
                                                     "max_age": 7, "stored": True}
    assert client.get("/users/kid").get_json()["max_age"] == 7
    kid = _ids(client, "/users/kid/recommendations?k=8")
    assert kid and ADULT not in kid and LICENSED not in kid  # R is 17, PG-13 13
    assert KIDS in kid
    grown = _ids(client, "/users/kid/recommendations?k=8&max_age=18")
    assert ADULT in grown and LICENSED in grown  # the stored country still holds
    assert ADULT not in _ids(client, "/search?q=bokser&k=8&user=kid")
    assert client.delete("/users/kid").status_code == 204
    assert client.get("/users/kid").get_json() == {"user": "kid", "country": None,
                                                   "max_age": None, "stored": False}


def test_filter_expressions_on_the_query_routes(client):
    series = _ids(client, '/search?q=bokser&k=8&country=DK&filter=kind+%3D+"series"')
    assert series == {SERIES}
    hanks = _ids(client, '/films?country=DK&filter=people+has+"tom+hanks"')
    assert hanks == {SERIES}
    not_original = _ids(client, "/films?country=DK&limit=100&filter=not+attributes.original"
                        "+and+year+>%3D+1980+and+genres+has+%22Drama%22")
    assert SERIES not in not_original and "rocky-v-1990" in not_original
    assert "rocky-ii-1979" not in not_original  # 1979
    body = {"positive": ["Rocky III"], "filter": 'maturity in ["R", "G"]',
            "context": {"country": "DK"}}
    assert _ids(client, "/recommend", "post", body) == {ADULT, KIDS}


@pytest.mark.parametrize("query, parameter, says", [
    ("filter=kind+%3D", "filter", "column 7"),
    ("filter=colour+%3D+%22red%22", "filter", "unknown field 'colour'"),
    ("filter=attributes.studio", "filter", "unknown attribute 'studio'"),
    ("filter=year+%3E+%22old%22", "filter", "needs a number"),
    ("filter=%40kids", "filter", "not a named filter"),
    ("country=XX", "country", "ISO 3166-1"),
    ("country=DEN", "country", "at most 2"),
    ("max_age=-1", "max_age", "greater than or equal to 0"),
])
def test_bad_context_and_expressions_are_400s_that_say_why(client, query, parameter, says):
    r = client.get(f"/search?q=bokser&{query}")
    assert r.status_code == 400, r.get_json()
    error = r.get_json()["error"]
    assert error["parameter"] == parameter and says in error["message"], error


@pytest.mark.parametrize("fields, field, says", [
    ({"territories": [{"country": "XX"}]}, "territories[0].country", "ISO 3166-1"),
    ({"territories": [{"country": "DK", "from": "2026-02-01T00:00:00Z",
                       "until": "2026-01-01T00:00:00Z"}]}, "territories[0].until", "after"),
    ({"territories": [{"country": "DK"}] * 301}, "territories", "at most 300"),
    ({"maturity": "PG-15"}, "maturity", "unknown maturity rating"),
    ({"kind": "podcast"}, "kind", "kind must be one of"),
    ({"attributes": {"original": {"deep": 1}}}, "attributes.original", "must be a string"),
    ({"attributes": {"1st": True}}, "attributes.1st", "attribute name"),
    ({"people": [{"name": ""}]}, "people[0].name", "people[0].name"),
])
def test_bad_facets_are_refused_and_nothing_is_stored(client, fields, field, says):
    before = client.get(f"/films/{KIDS}").get_json()
    r = client.patch(f"/films/{KIDS}", json=fields)
    assert r.status_code == 400, r.get_json()
    error = r.get_json()["error"]
    assert error["parameter"] == field and says in error["message"], error
    assert client.get(f"/films/{KIDS}").get_json() == before


def test_a_title_is_resolved_and_suggested_only_among_the_films_the_context_sees(client):
    r = client.get("/similar?title=Rocky+II&max_age=10&country=DK")
    assert r.status_code == 404 and r.get_json()["error"]["reason"] == "maturity"
    r = client.get("/similar?title=Rocky+bokser&max_age=10")  # not a title: what is it nearly?
    suggested = {s["id"] for s in r.get_json()["error"].get("suggestions", [])}
    assert LICENSED not in suggested and ADULT not in suggested
    r = client.get("/similar?title=Rocky+bokser&country=DK")
    assert LICENSED in {s["id"] for s in r.get_json()["error"].get("suggestions", [])}


def test_a_default_country_and_a_required_one(settings, engine, tmp_path):
    app = create_app(dataclasses.replace(
        settings, events_url=f"sqlite:///{tmp_path / 'e.sqlite3'}", catalog_poll_seconds=0,
        default_country="dk"), live=LiveIndex.serving(engine))
    c = app.test_client()
    assert c.patch(f"/films/{LICENSED}", json={"territories": [{"country": "DK"}]}
                   ).status_code == 200
    assert LICENSED in _ids(c, "/films?limit=100")  # no country given: the default's
    assert LICENSED not in _ids(c, "/films?limit=100&country=SE")
    strict = create_app(dataclasses.replace(
        settings, events_url=f"sqlite:///{tmp_path / 'e.sqlite3'}", catalog_poll_seconds=0,
        require_country="true"), live=LiveIndex.serving(engine))
    s = strict.test_client()
    r = s.get("/search?q=bokser")
    assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "country"
    assert "needs the viewer's country" in r.get_json()["error"]["message"]
    assert s.get("/search?q=bokser&country=DK").status_code == 200
    for made in (app, strict):
        if viewers(made).personal is not None:
            viewers(made).personal.store.close()


def test_a_viewer_whose_context_cant_be_read_is_a_503_that_says_so(settings, engine, tmp_path):
    (tmp_path / "a-file").write_text("")  # no database can be made under a file
    app = create_app(dataclasses.replace(
        settings, events_url=f"sqlite:///{tmp_path / 'a-file' / 'e.sqlite3'}",
        catalog_poll_seconds=0), live=LiveIndex.serving(engine))
    c = app.test_client()
    r = c.get("/search?q=bokser&user=kid")
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "events_unavailable"
    assert "stored context" in r.get_json()["error"]["message"] and r.headers["Retry-After"]
    assert c.get("/search?q=bokser&user=kid&country=DK&max_age=7").status_code == 200
    assert c.get("/search?q=bokser").status_code == 200
