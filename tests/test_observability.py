"""Request ids, JSON access logs, Prometheus metrics, API keys and rate limits."""

import json
import logging

import pytest

from recommender.api import create_app
from recommender.observability import JsonFormatter


def test_request_id_is_echoed_or_made(client):
    r = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert r.headers["X-Request-ID"] == "abc-123"
    made = client.get("/health").headers["X-Request-ID"]
    assert len(made) == 32
    bad = client.get("/health", headers={"X-Request-ID": "x" * 500}).headers["X-Request-ID"]
    assert bad != "x" * 500  # not echoed: too long to be an id


def test_one_json_log_line_per_request(client, caplog):
    with caplog.at_level(logging.INFO, logger="recommender.access"):
        client.get("/search?q=karate&k=1", headers={"X-Request-ID": "req-7"})
        client.get("/films/nope")
    records = [r for r in caplog.records if r.name == "recommender.access"]
    assert len(records) == 2
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["request_id"] == "req-7" and line["route"] == "/search"
    assert line["status"] == 200 and line["ms"] > 0 and line["method"] == "GET"
    assert json.loads(JsonFormatter().format(records[1]))["status"] == 404


def test_metrics(settings, engine):
    client = create_app(settings, engine=engine).test_client()
    client.get("/search?q=karate&k=1")
    client.get("/films/rocky-1976/similar")
    client.get("/films/nope")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'recommender_requests_total{method="GET",route="/search",status="200"} 1.0' in text
    assert 'route="/films/<film_id>",status="404"} 1.0' in text  # ids don't become labels
    assert 'recommender_request_seconds_bucket{le="0.25",route="/search"}' in text
    assert "recommender_index_films 8.0" in text
    assert f'recommender_index_version_info{{model="all-MiniLM-L6-v2",version="' \
           f'{engine.index.version}"}} 1.0' in text


@pytest.fixture
def keyed(settings, engine):
    from dataclasses import replace
    app = create_app(replace(settings, api_keys="read-1, read-2", admin_keys="admin-1"),
                     engine=engine)
    return app.test_client()


@pytest.mark.parametrize("headers, status, code", [
    ({}, 401, "unauthorized"),
    ({"X-API-Key": "wrong"}, 403, "forbidden"),
    ({"Authorization": "Bearer read-1"}, 200, None),
    ({"X-API-Key": "read-2"}, 200, None),
    ({"X-API-Key": "admin-1"}, 200, None),
])
def test_read_keys(keyed, headers, status, code):
    r = keyed.get("/search?q=karate&k=1", headers=headers)
    assert r.status_code == status
    if code:
        assert r.get_json()["error"]["code"] == code
    if status == 401:
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_admin_key_and_open_probes(keyed):
    assert keyed.post("/admin/reload").status_code == 401
    assert keyed.post("/admin/reload", headers={"X-API-Key": "read-1"}).status_code == 403
    assert keyed.post("/admin/reload", headers={"X-API-Key": "admin-1"}).status_code == 200
    for path in ("/health", "/ready", "/metrics"):
        assert keyed.get(path).status_code == 200


def test_no_keys_configured_changes_nothing(client):
    assert client.get("/search?q=karate&k=1").status_code == 200
    assert client.post("/admin/reload").status_code == 200


def test_rate_limit(settings, engine):
    from dataclasses import replace
    client = create_app(replace(settings, rate_limit_per_minute=3), engine=engine).test_client()
    statuses = [client.get("/films/rocky-1976").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    r = client.get("/films/rocky-1976")
    assert r.get_json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1
    assert client.get("/health").status_code == 200  # probes are never limited
    other = client.get("/films/rocky-1976", headers={"X-API-Key": "someone-else"})
    assert other.status_code == 200  # per client


def test_repeated_queries_hit_the_cache(settings, engine):
    client = create_app(settings, engine=engine).test_client()
    hits = engine.embedder.cache_hits
    first = client.get("/search?q=a cached query about boxing&k=3").get_json()
    second = client.get("/search?q=a cached query about boxing&k=3").get_json()
    assert first == second
    assert engine.embedder.cache_hits == hits + 1
    text = client.get("/metrics").get_data(as_text=True)
    assert f'recommender_query_cache_lookups{{result="hit"}} {float(hits + 1)}' in text
