"""One filter for every route: a film withdrawn, past the end of its window, not licensed
in the viewer's country (or out of its window there), or rated above the viewer's age, is
in no answer of any route of the OpenAPI document; with a context that allows it, it is.
A route added to the document without a request here fails this test. Each request is
made before the change too, and must name the film then: a request that could never
return it proves nothing."""

from __future__ import annotations

import json

import pytest

from recommender.api.app import create_app
from recommender.api.openapi import build_openapi
from recommender.api.services import viewers
from recommender.config import Settings
from recommender.viewers import collaborative

TARGET = "rocky-ii-1979"
"""Liked by most viewers and like Rocky in every way: in every answer until withdrawn."""
REQUESTS = {
    ("GET", "/films"): ("/films?limit=100", None),
    ("GET", "/films/{film_id}"): (f"/films/{TARGET}", None),
    ("GET", "/films/{film_id}/similar"): ("/films/rocky-1976/similar?k=20", None),
    ("GET", "/films/{film_id}/also-liked"): ("/films/rocky-1976/also-liked?k=20", None),
    ("GET", "/similar"): ("/similar?title=Rocky&k=20", None),
    ("GET", "/search"): ("/search?q=Rocky+Balboa+bokser&k=20", None),
    ("GET", "/map"): ("/map", None),
    ("POST", "/recommend"): ("/recommend", {"positive": ["Rocky"], "k": 20}),
    ("POST", "/recommend/batch"): ("/recommend/batch", {"requests": [
        {"positive": ["Rocky"], "k": 20}, {"query": "bokser", "k": 20}]}),
    ("GET", "/users/{user}/recommendations"): ("/users/ann/recommendations?k=20", None),
    ("GET", "/users/{user}/rows"): ("/users/ann/rows?rows=5&k=10", None),
    ("GET", "/trending"): ("/trending?k=20", None),
    ("POST", "/users/{user}/rank"): ("/users/ann/rank", {"films": [
        "rocky-iii-1982", TARGET, "lucky-you-2007"]}),
}
NOT_ABOUT_FILMS = {
    ("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics"), ("POST", "/events"),
    ("DELETE", "/users/{user}"), ("POST", "/admin/reload"), ("GET", "/admin/status"),
    ("GET", "/users/{user}"), ("PUT", "/users/{user}"),  # a viewer's stored context
    ("PUT", "/films/{film_id}"), ("PATCH", "/films/{film_id}"),
    ("DELETE", "/films/{film_id}"), ("POST", "/films/bulk"),
    # operators' figures of what answers showed: counts, not films
    ("GET", "/admin/stats"), ("GET", "/admin/experiments"), ("GET", "/admin/experiments/{name}"),
    # what the viewer did stays theirs: the record of events, not a recommendation
    ("GET", "/users/{user}/history"),
}


def test_every_route_of_the_document_is_walked():
    routes = {(m.upper(), p) for p, ops in build_openapi(Settings())["paths"].items()
              for m in ops}
    assert routes == set(REQUESTS) | NOT_ABOUT_FILMS


@pytest.fixture
def client(source, tmp_path):
    out, _ = source
    url = f"sqlite:///{tmp_path / 'events.sqlite3'}"
    settings = Settings(index=out, reload_poll_seconds=0, catalog_poll_seconds=0,
                        events_url=url)
    app = create_app(settings)
    client = app.test_client()
    events = [{"user": f"v{i}", "film": {"id": film}, "type": "like"}
              for i in range(30) for film in ("rocky-1976", TARGET, "rocky-iv-1985")]
    events += [{"user": "ann", "film": {"id": "rocky-1976"}, "type": "like"},
               {"user": "ann", "film": {"id": "rocky-iv-1985"}, "type": "like"}]
    assert client.post("/events", json={"events": events}).get_json()["accepted"] == 92
    store = viewers(app).open().store
    films = [f.id for f in app.extensions["recommender"].live.engine().index.films]
    assert collaborative.train(out, store.interactions(), films, min_events=10).path
    assert app.extensions["recommender"].live.follow_model()
    yield client
    store.close()


def _answers(client, context: dict | None = None) -> dict[tuple[str, str], str]:
    """Each route's answer, asked in ``context`` (country, max_age); the film's own page
    may be its 404 (which names the id asked for, and only that)."""
    out = {}
    for route, (path, body) in REQUESTS.items():
        if context and body is None:
            path += ("&" if "?" in path else "?") + "&".join(
                f"{k}={v}" for k, v in context.items())
        elif context and body is not None:
            body = {**body, "context": context} if "requests" not in body else \
                {"requests": [{**b, "context": context} for b in body["requests"]]}
        r = client.post(path, json=body) if body is not None else client.get(path)
        if r.status_code == 404 and route == ("GET", "/films/{film_id}"):
            out[route] = "not found"
            continue
        out[route] = r.get_data(as_text=True)
        assert r.status_code == 200, (route, out[route])
        if route == ("POST", "/users/{user}/rank"):  # its query echoes the ids it was given
            out[route] = json.dumps({k: v for k, v in r.get_json().items() if k != "query"})
    return out


@pytest.mark.parametrize("change", ["withdrawn", "licence ended"])
def test_a_film_taken_off_is_in_no_answer_of_any_route(client, change):
    before = _answers(client)
    missing = [r for r, text in before.items() if TARGET not in text]
    assert not missing, f"these requests never return {TARGET}: {missing}"
    if change == "withdrawn":
        r = client.delete(f"/films/{TARGET}")
    else:
        r = client.patch(f"/films/{TARGET}", json={"available_until": "2026-01-01T00:00:00Z"})
    assert r.status_code == 200
    after = _answers(client)
    found = {r: json.loads(t) for r, t in after.items() if TARGET in t}
    assert not found, f"{TARGET} still answered by: {sorted(found)}"
    assert after[("GET", "/films/{film_id}")] == "not found"
    history = client.get("/users/v0/history").get_json()["events"]
    assert TARGET in {e["film"]["id"] for e in history}  # its events stay


SWEDEN_TEN = {"country": "SE", "max_age": 10}


@pytest.mark.parametrize("change, allowed", [
    ({"territories": [{"country": "DK"}]}, {"country": "DK", "max_age": 10}),
    ({"territories": [{"country": "SE", "until": "2026-01-01T00:00:00Z"},
                      {"country": "DK", "from": "2020-01-01T00:00:00Z"}]},
     {"country": "DK", "max_age": 10}),
    ({"maturity": "R"}, {"country": "SE", "max_age": 18}),
], ids=["not licensed in SE", "out of its SE window", "rated above 10"])
def test_a_film_outside_the_context_is_in_no_answer_of_any_route(client, change, allowed):
    ids = [f["id"] for f in client.get("/films?limit=1000").get_json()["films"]]
    rated = client.post("/films/bulk", json={"changes": [
        {"op": "patch", "id": i, "fields": {"maturity": "PG"}} for i in ids]})
    assert rated.status_code == 200, rated.get_json()  # every film fit for a ten-year-old
    before = _answers(client, SWEDEN_TEN)
    missing = [r for r, text in before.items() if TARGET not in text]
    assert not missing, f"these requests never return {TARGET} in SE at 10: {missing}"
    assert client.patch(f"/films/{TARGET}", json=change).status_code == 200
    after = _answers(client, SWEDEN_TEN)
    found = sorted(r for r, t in after.items() if TARGET in t)
    assert not found, f"{TARGET} still answered in SE at 10 by: {found}"
    assert after[("GET", "/films/{film_id}")] == "not found"
    elsewhere = _answers(client, allowed)
    missing = [r for r, text in elsewhere.items() if TARGET not in text]
    assert not missing, f"in {allowed} these requests leave {TARGET} out: {missing}"
