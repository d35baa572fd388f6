"""Request ids, JSON access logs, Prometheus metrics, API keys and rate limits."""

import json
import logging

import pytest

from recommender.api.app import create_app
from recommender.api.observability import JsonFormatter
from recommender.distribution.live import LiveIndex
from tests.conftest import answer


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
    client = create_app(settings, live=LiveIndex.serving(engine)).test_client()
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
                     live=LiveIndex.serving(engine))
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
    client = create_app(replace(settings, rate_limit_per_minute=3),
                        live=LiveIndex.serving(engine)).test_client()
    statuses = [client.get("/films/rocky-1976").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    r = client.get("/films/rocky-1976")
    assert r.get_json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1
    assert client.get("/health").status_code == 200  # probes are never limited
    # with no keys configured, a made-up key is no way out: the address is the client
    assert client.get("/films/rocky-1976", headers={"X-API-Key": "fresh-1"}).status_code == 429
    other = client.get("/films/rocky-1976", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200  # per client


def test_rate_limit_trusts_forwarded_for_only_from_trusted_proxies(settings, engine):
    from dataclasses import replace
    client = create_app(replace(settings, rate_limit_per_minute=1, trusted_proxies="10.0.0.1"),
                        live=LiveIndex.serving(engine)).test_client()

    def get(peer, forwarded):
        return client.get("/films/rocky-1976", environ_base={"REMOTE_ADDR": peer},
                          headers={"X-Forwarded-For": forwarded}).status_code

    assert get("10.0.0.1", "198.51.100.1") == 200
    assert get("10.0.0.1", "198.51.100.2") == 200  # another client behind the proxy
    assert get("10.0.0.1", "198.51.100.1") == 429
    # a client can prepend anything; the proxy appends the address it saw
    assert get("10.0.0.1", "203.0.113.5, 198.51.100.1") == 429
    # from an untrusted peer the header counts for nothing
    assert get("192.0.2.7", "198.51.100.3") == 200
    assert get("192.0.2.7", "198.51.100.4") == 429


def test_rate_limit_is_per_valid_key(settings, engine):
    from dataclasses import replace
    client = create_app(replace(settings, rate_limit_per_minute=1, api_keys="k1,k2"),
                        live=LiveIndex.serving(engine)).test_client()
    assert client.get("/films/rocky-1976", headers={"X-API-Key": "k1"}).status_code == 200
    assert client.get("/films/rocky-1976", headers={"X-API-Key": "k1"}).status_code == 429
    assert client.get("/films/rocky-1976", headers={"X-API-Key": "k2"}).status_code == 200


@pytest.mark.parametrize("headers, status", [
    ({}, 401), ({"X-API-Key": "wrong"}, 403), ({"X-API-Key": "read-1"}, 200)])
def test_refused_requests_keep_their_id_and_are_logged(keyed, caplog, headers, status):
    with caplog.at_level(logging.INFO, logger="recommender.access"):
        r = keyed.get("/search?q=karate&k=1", headers={**headers, "X-Request-ID": "mine-1"})
    assert r.status_code == status
    assert r.headers["X-Request-ID"] == "mine-1"
    line = json.loads(JsonFormatter().format(
        [x for x in caplog.records if x.name == "recommender.access"][-1]))
    assert line["request_id"] == "mine-1" and line["status"] == status and line["ms"] > 0


def test_health_tells_no_paths_and_admin_status_does(keyed, engine):
    health = keyed.get("/health").get_json()
    assert str(engine.index.path) not in json.dumps(health)
    assert health["index"]["version"] == engine.index.version
    assert keyed.get("/admin/status").status_code == 401
    status = keyed.get("/admin/status", headers={"X-API-Key": "admin-1"}).get_json()
    assert status["index"]["path"] == str(engine.index.path)


def test_admin_closed_on_a_public_address_without_an_admin_key(settings, engine):
    from dataclasses import replace
    public = create_app(replace(settings, host="0.0.0.0"),
                        live=LiveIndex.serving(engine)).test_client()
    r = public.post("/admin/reload")
    assert r.status_code == 403 and "RECOMMENDER_ADMIN_KEYS" in r.get_json()["error"]["message"]
    assert public.get("/search?q=karate&k=1").status_code == 200  # queries stay open
    keyed = create_app(replace(settings, host="0.0.0.0", admin_keys="a1"),
                       live=LiveIndex.serving(engine))
    assert keyed.test_client().post("/admin/reload", headers={"X-API-Key": "a1"}).status_code \
        == 200


def test_page_is_open_when_keys_are_configured(keyed):
    page = keyed.get("/")
    assert page.status_code == 200 and b'id="key-form"' in page.data
    script = keyed.get("/static/app.js")
    assert script.status_code == 200 and b"X-API-Key" in script.data
    script.close()


def test_repeated_queries_hit_the_cache(settings, engine):
    client = create_app(settings, live=LiveIndex.serving(engine)).test_client()
    hits = engine.embedder.cache_hits
    first = client.get("/search?q=a cached query about boxing&k=3").get_json()
    second = client.get("/search?q=a cached query about boxing&k=3").get_json()
    assert answer(first) == answer(second)
    assert engine.embedder.cache_hits == hits + 1
    text = client.get("/metrics").get_data(as_text=True)
    assert f'recommender_query_cache_lookups{{result="hit"}} {float(hits + 1)}' in text
