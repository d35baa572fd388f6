"""Bytes a client can send that were 500s (issue 40): times at the calendar's edge with an
offset, numbers JSON has no room for, lone surrogates. Each is now a 400 naming what was
wrong, on every route that took it, and nothing is stored or recorded from it."""

from __future__ import annotations

import json

import pytest

from recommender.api import impressions as app_impressions
from recommender.api.app import create_app
from recommender.api.services import viewers
from recommender.config import Settings
from recommender.storage.impressions import ImpressionLog

EDGES = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+05:00"]
FILM = {"title": "Edge", "synopsis": "En film om kanten af kalenderen.", "year": 2000}
NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400"]
LONE = '"\\ud800"'


def _fill(template: str, value: str) -> str:
    """``template`` with ``value`` where it says %s (JSON's braces rule out str.format)."""
    return template.replace("%s", value)


@pytest.fixture
def app(source, tmp_path):
    out, _ = source
    app = create_app(Settings(index=out, reload_poll_seconds=0, catalog_poll_seconds=0,
                              events_url=f"sqlite:///{tmp_path / 'events.sqlite3'}"))
    app.testing = False  # a 500 is answered as a real server answers it, not raised
    yield app
    personal = viewers(app).personal
    if personal is not None:
        personal.store.close()


def _edge_requests() -> list[tuple[str, str, str | None, str]]:
    out = []
    for edge in EDGES:
        for field in ("available_from", "available_until"):
            out.append(("PUT", "/films/edge-1", json.dumps({**FILM, field: edge}), field))
            out.append(("PATCH", "/films/rocky-1976", json.dumps({field: edge}), field))
            out.append(("POST", "/films/bulk", json.dumps({"changes": [
                {"op": "put", "film": {**FILM, "id": "edge-2", field: edge}}]}), field))
        quoted = edge.replace("+", "%2B")
        out.append(("GET", f"/admin/experiments/none?until={quoted}", None, "until"))
    return out


def _number_requests() -> list[tuple[str, str, str | None, str]]:
    return [r for n in NUMBERS for r in [
        ("PUT", "/films/edge-1", _fill('{"title": "X", "synopsis": "s", "year": %s}', n), n),
        ("POST", "/recommend", _fill('{"positive": ["Rocky"], "diversity": %s}', n), n),
        ("POST", "/events", _fill('{"events": [{"user": "u", "film": {"id": "rocky-1976"}, '
                            '"type": "rating", "value": %s}]}', n), n)]]


def _surrogate_requests() -> list[tuple[str, str, str | None, str]]:
    return [
        ("PUT", "/films/edge-1", _fill('{"title": %s, "synopsis": "s"}', LONE), "title"),
        ("PUT", "/films/edge-1", _fill('{"title": "t", "synopsis": %s}', LONE), "synopsis"),
        ("PUT", "/films/edge-1", _fill('{"title": "t", "synopsis": "s", "aliases": [%s]}', LONE),
         "aliases[0]"),
        ("PATCH", "/films/rocky-1976", _fill('{"genres": [%s]}', LONE), "genres[0]"),
        ("POST", "/films/bulk", _fill('{"changes": [{"op": "put", "film": {"id": "edge-3", '
                                '"title": %s, "synopsis": "s"}}]}', LONE),
         "changes[0].film.title"),
        ("POST", "/recommend", _fill('{"positive": ["Rocky"], "exclude": [%s]}', LONE),
         "exclude[0]"),
        ("POST", "/recommend/batch", _fill('{"requests": [{"query": %s}]}', LONE),
         "requests[0].query"),
        ("POST", "/events",
         _fill('{"events": [{"user": %s, "film": "Rocky", "type": "like"}]}', LONE),
         "events[0].user"),
    ]


@pytest.mark.parametrize("method, path, body, named",
                         _edge_requests() + _number_requests() + _surrogate_requests())
def test_no_500_from_bytes_a_client_can_send(app, method, path, body, named):
    client = app.test_client()
    before = client.get("/films/rocky-1976").get_json()
    r = client.open(path, method=method, data=body,
                    content_type="application/json" if body is not None else None)
    error = r.get_json()["error"]
    assert r.status_code == 400, (r.status_code, error)
    assert error["code"] in ("invalid_parameter", "invalid_json")
    assert named in json.dumps(error), error  # the field, parameter or number it refused
    assert client.get("/films/edge-1").status_code == 404  # nothing stored
    assert client.get("/films/rocky-1976").get_json() == before


def test_a_refused_or_failed_answer_records_no_impression(app):
    @app.after_request  # runs before the recorder's hook: an answer that fails late
    def fail(response):
        if request_is_marked():
            response.status_code = 500
        return response

    client = app.test_client()
    shown = client.post("/recommend", json={"positive": ["Rocky"], "k": 2}).get_json()
    refused = client.post("/recommend",
                          data=_fill('{"positive": ["Rocky"], "exclude": [%s]}', LONE),
                          content_type="application/json")
    assert refused.status_code == 400
    failed = client.post("/recommend?marked=1", json={"positive": ["Rocky"], "k": 2})
    assert failed.status_code == 500
    with app.app_context():
        assert app_impressions.recorder().flush()
    log = ImpressionLog(viewers(app).open().store)
    assert log.get(shown["recommendation_id"]) is not None
    stats = client.get("/admin/stats?days=1").get_json()
    assert sum(t["impressions"] for t in stats["totals"]) == 1, stats


def request_is_marked() -> bool:
    from flask import request

    return request.args.get("marked") == "1"


@pytest.mark.parametrize("extra, field", [
    ({"title": "x" * 200_000}, "title"),
    ({"synopsis": "s" * 20_001}, "synopsis"),
    ({"aliases": ["alias"] * 20_000}, "aliases"),
    ({"genres": ["g" * 101]}, "genres"),
    ({"original_title": "\u0301" * 10_000}, "original_title"),
    ({"image_url": "/../../etc/passwd"}, "image_url"),
    ({"image_url": "/images/%2e%2e/%2e%2e/etc/passwd"}, "image_url"),
    ({"image_url": "//evil.example/poster.png"}, "image_url"),
])
def test_film_text_is_bounded_and_image_paths_stay_on_the_server(app, extra, field):
    client = app.test_client()
    for method, path, body in [
            ("PUT", "/films/edge-1", {**FILM, **extra}),
            ("PATCH", "/films/rocky-1976", extra),
            ("POST", "/films/bulk", {"changes": [{"op": "put", "film": {
                **FILM, "id": "edge-2", **extra}}]})]:
        r = client.open(path, method=method, json=body)
        assert r.status_code == 400, (method, r.get_json())
        error = r.get_json()["error"]
        assert field in json.dumps(error), error
    assert client.get("/films/edge-1").status_code == 404
    ok = client.put("/films/edge-1", json={**FILM, "image_url": "/images/edge.jpg",
                                           "title": "t" * 500})
    assert ok.status_code in (200, 201), ok.get_json()
