"""Keys by what they allow, and viewer tokens (issue 40), through the app: every route is
one action (search, events, catalog, admin); a key allows its setting's actions; a viewer
token lets its holder search and act as its one viewer; on a public address, viewers'
data and writes are closed where no key allows them."""

from __future__ import annotations

import dataclasses
import json
import time

import jwt
import pytest

from recommender.api import tokens
from recommender.api.app import create_app
from recommender.api.services import viewers
from recommender.cli.main import main
from recommender.distribution.live import LiveIndex

SECRET = "a-secret-only-the-application-and-the-server-know"
KEYS = {"search_keys": "s1", "events_keys": "e1", "catalog_keys": "c1", "admin_keys": "a1",
        "api_keys": "r1", "viewer_token_secret": SECRET}
FILM = {"title": "Rumbokseren", "synopsis": "En bokser træner på Mars.", "year": 2026}


@pytest.fixture
def make_app(settings, engine, tmp_path):
    made = []

    def make(**changes):
        app = create_app(dataclasses.replace(
            settings, events_url=f"sqlite:///{tmp_path / 'e.sqlite3'}", catalog_poll_seconds=0,
            **changes), live=LiveIndex.serving(engine))
        made.append(app)
        return app.test_client()

    yield make
    for app in made:
        personal = viewers(app).personal
        if personal is not None:
            personal.store.close()


def _headers(credential):
    return {"Authorization": f"Bearer {credential}"} if credential else {}


def _request(client, route, credential):
    method, path, body = route  # a body as JSON text: a route is a key of EXPECTED
    return client.open(path, method=method, data=body, headers=_headers(credential),
                       content_type="application/json" if body else None)


SEARCH = ("GET", "/search?q=bokser&k=2", None)
HISTORY = ("GET", "/users/ann/history", None)
RECS = ("GET", "/users/ann/recommendations?k=2", None)
EVENT = ("POST", "/events", '{"user": "ann", "film": "Rocky", "type": "like"}')
ERASE = ("DELETE", "/users/ann", None)
CATALOG = ("PUT", "/films/rumbokseren-2026", json.dumps(FILM))
ADMIN = ("GET", "/admin/status", None)

ANN = tokens.sign(SECRET, "ann")
BOB = tokens.sign(SECRET, "bob")
EXPECTED = {  # credential -> route -> status
    None: {SEARCH: 401, HISTORY: 401, EVENT: 401, CATALOG: 401, ADMIN: 401},
    "s1": {SEARCH: 200, HISTORY: 403, EVENT: 403, CATALOG: 403, ADMIN: 403},
    "e1": {SEARCH: 403, HISTORY: 200, RECS: 200, EVENT: 200, ERASE: 204, CATALOG: 403,
           ADMIN: 403},
    "c1": {SEARCH: 403, HISTORY: 403, CATALOG: 201, ADMIN: 403},
    "r1": {SEARCH: 200, HISTORY: 200, EVENT: 200, CATALOG: 403, ADMIN: 403},
    "a1": {SEARCH: 200, HISTORY: 200, EVENT: 200, CATALOG: 201, ADMIN: 200},
    ANN: {SEARCH: 200, HISTORY: 200, RECS: 200, EVENT: 200, ERASE: 204, CATALOG: 403,
          ADMIN: 403},
    BOB: {SEARCH: 200, HISTORY: 403, RECS: 403, EVENT: 403, ERASE: 403, CATALOG: 403,
          ADMIN: 403},
}


@pytest.mark.parametrize("credential", list(EXPECTED), ids=lambda c: (
    "none" if c is None else "token-ann" if c == ANN else "token-bob" if c == BOB else c))
def test_each_credential_allows_its_actions_and_no_more(make_app, credential):
    client = make_app(host="0.0.0.0", **KEYS)
    for route, status in EXPECTED[credential].items():
        r = _request(client, route, credential)
        assert r.status_code == status, (route, r.get_json())
        if status == 403:
            assert r.get_json()["error"]["code"] == "forbidden"


def test_a_token_sends_events_as_its_viewer_only(make_app):
    client = make_app(host="0.0.0.0", **KEYS)
    mixed = {"events": [{"user": "ann", "film": "Rocky", "type": "like"},
                        {"user": "bob", "film": "Rocky", "type": "like"}]}
    r = client.post("/events", json=mixed, headers=_headers(ANN))
    assert r.status_code == 403 and "its own viewer" in r.get_json()["error"]["message"]
    assert client.get("/users/bob/history", headers=_headers("e1")).get_json()["events"] == []
    # acting as another viewer on a search route (?user=) is refused too
    assert client.get("/search?q=bokser&user=bob", headers=_headers(ANN)).status_code == 403
    assert client.get("/search?q=bokser&user=ann", headers=_headers(ANN)).status_code == 200


@pytest.mark.parametrize("forged", [
    tokens.sign("another-secret-of-at-least-32-bytes-long", "ann"),
    jwt.encode({"sub": "ann", "exp": int(time.time()) - 10}, SECRET, algorithm="HS256"),
    jwt.encode({"sub": "ann"}, SECRET, algorithm="HS256"),  # no expiry
    jwt.encode({"sub": "ann", "exp": int(time.time()) + 60}, None, algorithm="none"),
    jwt.encode({"sub": "ann", "exp": int(time.time()) + 60}, SECRET * 2, algorithm="HS512"),
])
def test_forged_expired_or_unsigned_tokens_are_refused(make_app, forged):
    client = make_app(host="0.0.0.0", **KEYS)
    r = client.get("/users/ann/history", headers=_headers(forged))
    assert r.status_code == 403, r.get_json()


def test_a_public_address_closes_viewers_data_and_writes_without_a_key(make_app):
    client = make_app(host="0.0.0.0")
    assert client.get(SEARCH[1]).status_code == 200  # the catalog's answers stay open
    for route, setting in [(HISTORY, "RECOMMENDER_EVENTS_KEYS"),
                           (EVENT, "RECOMMENDER_EVENTS_KEYS"),
                           (ERASE, "RECOMMENDER_EVENTS_KEYS"),
                           (CATALOG, "RECOMMENDER_CATALOG_KEYS"),
                           (ADMIN, "RECOMMENDER_ADMIN_KEYS")]:
        r = _request(client, route, None)
        assert r.status_code == 403 and setting in r.get_json()["error"]["message"], route
    # on loopback, as before, an unkeyed service is open
    local = make_app()
    assert _request(local, HISTORY, None).status_code == 200


def test_old_keys_allow_what_they_did(make_app):
    client = make_app(api_keys="r1", admin_keys="a1")
    assert _request(client, SEARCH, None).status_code == 401
    assert _request(client, HISTORY, "r1").status_code == 200
    assert _request(client, EVENT, "r1").status_code == 200
    assert _request(client, CATALOG, "r1").status_code == 403
    assert _request(client, ADMIN, "r1").status_code == 403
    assert _request(client, CATALOG, "a1").status_code == 201
    assert _request(client, ADMIN, "a1").status_code == 200


def test_the_command_line_signs_a_token_the_server_takes(make_app, monkeypatch, capsys):
    monkeypatch.setenv("RECOMMENDER_VIEWER_TOKEN_SECRET", SECRET)
    assert main(["token", "ann", "--ttl", "60"]) == 0
    signed = capsys.readouterr().out.strip()
    client = make_app(host="0.0.0.0", viewer_token_secret=SECRET)
    assert _request(client, HISTORY, signed).status_code == 200
    assert _request(client, HISTORY, None).status_code == 401
    monkeypatch.delenv("RECOMMENDER_VIEWER_TOKEN_SECRET")
    assert main(["token", "ann"]) == 2
    assert "RECOMMENDER_VIEWER_TOKEN_SECRET" in capsys.readouterr().err
