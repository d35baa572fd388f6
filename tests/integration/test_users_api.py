"""Viewers and their events over HTTP (recommender/users_api.py), against a SQLite file and
a PostgreSQL server; durability through a real server killed with SIGKILL."""

import dataclasses

import pytest

from recommender.api.app import create_app
from recommender.api.services import personal, viewers
from recommender.distribution.live import LiveIndex
from tests.conftest import ROCKY_IDS
from tests.ops import free_port


@pytest.fixture
def client(settings, engine, events_url):
    app = create_app(dataclasses.replace(settings, events_url=events_url),
                     live=LiveIndex.serving(engine))
    yield app.test_client()
    personal = viewers(app).personal
    if personal is not None:
        personal.store.close()


def test_events_are_validated_one_by_one_and_stored_once(client):
    r = client.post("/events", json={"events": [
        {"user": "ann", "film": "Rocky", "type": "like", "event_id": "e1"},
        {"user": "ann", "film": "Rocky", "type": "like", "event_id": "e1"},
        {"user": "ann", "film": {"id": "no-such-film"}, "type": "like"},
        {"user": "ann", "film": "rocky 2", "type": "view", "value": 0.9,
         "ts": "2026-11-30T20:00:00+01:00", "recommendation_id": "r-1"},
        {"user": "ann", "film": "Rocky", "type": "rating", "value": 9},
        {"user": "ann", "film": "Rocky", "type": "shrug"},
        {"user": "ann", "film": {"title": "Lucky You", "year": 2007}, "type": "dislike"},
    ]})
    assert r.status_code == 200
    body = r.get_json()
    assert (body["accepted"], body["duplicates"]) == (3, 1)
    assert [(x["index"], x["error"]["code"]) for x in body["rejected"]] == [
        (2, "not_found"), (4, "invalid_parameter"), (5, "invalid_parameter")]
    assert "0 to 5" in body["rejected"][1]["error"]["message"]
    history = client.get("/users/ann/history").get_json()["events"]
    assert [(e["film"]["id"], e["type"]) for e in history][1:] == [
        ("rocky-1976", "like"), ("rocky-ii-1979", "view")]  # newest first; the view is oldest
    view = history[-1]
    assert view["ts"] == "2026-11-30T19:00:00.000+00:00" and view["recommendation_id"] == "r-1"
    assert client.post("/events", json={"user": "ann", "film": "Rocky", "type": "like",
                                        "event_id": "e1"}).get_json()["duplicates"] == 1


def test_a_single_bad_event_is_a_400_that_says_why(client):
    r = client.post("/events", json={"user": "ann", "film": "Rocky", "type": "like",
                                     "value": 1})
    assert r.status_code == 400
    assert r.get_json()["error"] == {"code": "invalid_parameter", "parameter": "value",
                                     "message": "value: a like takes no value"}
    assert client.post("/events", json={"user": "a/b", "film": "Rocky",
                                        "type": "like"}).status_code == 400


def test_a_batch_is_bounded(client, settings):
    many = [{"user": "bo", "film": "Rocky", "type": "view"}] * (settings.max_events_per_request
                                                                 + 1)
    r = client.post("/events", json={"events": many})
    assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "events"


def test_recommendations_come_from_the_history_with_reasons(client):
    assert client.get("/users/cy/recommendations?k=3").get_json()["query"]["basis"] == \
        "trending"
    client.post("/events", json={"user": "cy", "film": "Rocky", "type": "like"})
    body = client.get("/users/cy/recommendations?k=4").get_json()
    assert {r["id"] for r in body["results"]} == set(ROCKY_IDS[1:])
    assert all(r["reasons"][0]["because"] == "liked" for r in body["results"])
    assert body["recommendation_id"] and body["query"]["user"] == "cy"
    filtered = client.get("/users/cy/recommendations?k=4&year_min=1985").get_json()
    assert all(r["year"] >= 1985 for r in filtered["results"])
    assert client.get("/users/cy/recommendations?k=0").status_code == 400


def test_rows_history_and_erasure(client):
    client.post("/events", json={"events": [
        {"user": "di", "film": "Rocky", "type": "like", "ts": "2026-11-01T00:00:00Z"},
        {"user": "di", "film": "The Karate Kid", "type": "view", "value": 1.0}]})
    rows = client.get("/users/di/rows?rows=2&k=2").get_json()
    assert [row["because"]["id"] for row in rows["rows"]] == ["the-karate-kid-1984",
                                                               "rocky-1976"]
    shown = [r["id"] for row in rows["rows"] for r in row["results"]]
    assert len(shown) == len(set(shown)) == 4 and rows["recommendation_id"]
    assert len(client.get("/users/di/history?limit=1").get_json()["events"]) == 1
    assert client.get("/users/di/history?limit=0").status_code == 400
    r = client.delete("/users/di")
    assert r.status_code == 204 and r.data == b""
    assert client.get("/users/di/history").get_json() == {"user": "di", "events": []}
    assert client.get("/users/di/recommendations").get_json()["query"]["history"] == 0
    assert client.delete("/users/di").status_code == 204  # erasing twice is fine


def test_trending_counts_recent_events(client):
    client.post("/events", json={"events": [
        {"user": f"u{i}", "film": "Chariots of Fire", "type": "view", "value": 1.0}
        for i in range(3)]})
    body = client.get("/trending?k=2").get_json()
    assert body["results"][0]["id"] == "chariots-of-fire-1981"
    assert body["results"][0]["reasons"] == [{"because": "trending"}]
    assert body["results"][1]["reasons"] == [{"because": "catalog"}]
    assert body["recommendation_id"]
    assert client.get("/trending?window_days=0").status_code == 400


def test_every_answer_that_recommends_carries_a_recommendation_id(client):
    ids = set()
    for r in (client.get("/similar?title=Rocky&k=2"), client.get("/films/rocky-1976/similar"),
              client.get("/search?q=boxer"), client.post("/recommend",
                                                         json={"positive": ["Rocky"]})):
        assert r.status_code == 200
        ids.add(r.get_json()["recommendation_id"])
    batch = client.post("/recommend/batch", json={"requests": [{"positive": ["Rocky"]}]})
    ids.add(batch.get_json()["responses"][0]["body"]["recommendation_id"])
    assert len(ids) == 5  # each answer its own


def test_metrics_count_events_by_type_and_those_a_recommendation_led_to(client):
    rec = client.get("/search?q=boxer").get_json()["recommendation_id"]
    client.post("/events", json={"events": [
        {"user": "ed", "film": "Rocky", "type": "like", "recommendation_id": rec},
        {"user": "ed", "film": "Rocky IV", "type": "view", "value": 0.5},
        {"user": "ed", "film": "Rocky V", "type": "watchlist",
         "recommendation_id": "f" * 32}]})  # forged: attributes nothing
    text = client.get("/metrics").get_data(as_text=True)
    assert 'recommender_events_total{type="like"} 1.0' in text
    assert 'recommender_events_total{type="watchlist"} 1.0' in text
    assert 'recommender_attributed_events_total{surface="search",type="like",variant=""} 1.0' \
        in text or \
        'recommender_attributed_events_total{surface="search",variant="",type="like"} 1.0' in text
    assert 'type="view"' not in text.split("recommender_attributed_events_total", 1)[1]
    assert "recommender_unattributed_events_total 1.0" in text


def test_a_database_that_cant_be_reached_is_a_503_and_queries_go_on(settings, engine):
    port = free_port()
    url = f"postgresql://nobody@127.0.0.1:{port}/none"  # nothing listens there
    client = create_app(dataclasses.replace(settings, events_url=url),
                        live=LiveIndex.serving(engine)).test_client()
    r = client.post("/events", json={"user": "fy", "film": "Rocky", "type": "like"})
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "events_unavailable"
    assert "RECOMMENDER_EVENTS_URL" in r.get_json()["error"]["message"]
    assert r.headers["Retry-After"] == "2"
    # the database's host and port are the operator's business: in the log, not the body
    assert "127.0.0.1" not in r.get_data(as_text=True) and str(port) not in \
        r.get_data(as_text=True)
    ready = client.get("/ready")
    assert ready.status_code == 200  # the index answers: a replica stays in rotation
    assert ready.get_json()["events"] == {"status": "unavailable", "retry_after": 2}
    assert client.get("/search?q=boxer").status_code == 200
    # its impression can't be written: dropped and counted, the answer went out
    with client.application.app_context():
        from recommender.api.impressions import recorder

        assert recorder().flush() and recorder().dropped["database"] == 1
    assert 'recommender_impressions_dropped_total{reason="database"} 1.0' in \
        client.get("/metrics").get_data(as_text=True)


# -- events that could poison a viewer (issue: faults) --------------------------------------

BAD_IDS = ["a\x00b", "a\x7fb", "a\u0085b", "a\u009bb", "a\u202eb", "a\u2028b", "a\u2066b",
           "a\nb"]


@pytest.mark.parametrize("field", ["user", "event_id", "recommendation_id"])
def test_ids_with_control_or_bidi_characters_are_refused_alone(client, field):
    """Each refused by itself (400-style, by index), the valid events of the same batch
    stored, on SQLite and PostgreSQL alike (a NUL failed a whole PostgreSQL batch: 500)."""
    good = {"user": "clean", "film": "Rocky", "type": "like", "event_id": f"ok-{field}"}
    events = [good] + [{**good, field: bad} if field != "event_id" else
                       {**good, "event_id": bad} for bad in BAD_IDS]
    r = client.post("/events", json={"events": events})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["accepted"] == 1
    assert [x["index"] for x in body["rejected"]] == list(range(1, len(BAD_IDS) + 1))
    assert all(x["error"]["parameter"] == field for x in body["rejected"])
    assert client.get("/users/clean/history").get_json()["events"][0]["event_id"] == \
        f"ok-{field}"


@pytest.mark.parametrize("ts", ["0001-01-01T00:00:00+14:00", "1969-12-31T23:59:59Z",
                                "2100-01-01T00:00:00Z", -62135596801, -1, 4102444800,
                                1e30, True])
def test_times_out_of_range_are_refused(client, ts):
    r = client.post("/events", json={"user": "tim", "film": "Rocky", "type": "like", "ts": ts})
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["parameter"] == "ts"
    assert client.get("/users/tim/history").status_code == 200  # never poisoned


def test_a_numeric_time_is_seconds_whatever_its_size(client):
    """pydantic alone reads a number past ~2e10 as milliseconds: 1e10 s is 2286 (refused
    here), 1.5e9 s is 2017."""
    r = client.post("/events", json={"events": [
        {"user": "num", "film": "Rocky", "type": "like", "ts": 1_500_000_000},
        {"user": "num", "film": "Rocky II", "type": "like", "ts": 0}]})
    assert r.get_json()["accepted"] == 2
    times = sorted(e["ts"] for e in client.get("/users/num/history").get_json()["events"])
    assert times == ["1970-01-01T00:00:00.000+00:00", "2017-07-14T02:40:00.000+00:00"]


def test_a_history_always_reads_back(client, app_store):
    """An event stored before times were checked (year 0 in UTC) no longer makes the
    viewer's history a 500: it reads back at the calendar's end."""
    from recommender.storage import Event

    app_store(client).add([Event("old", "rocky-1976", "like", ts=-62135596800 - 50_400,
                                 event_id="poison")])
    r = client.get("/users/old/history")
    assert r.status_code == 200
    assert r.get_json()["events"][0]["ts"].startswith("0001-01-01")
    assert client.get("/users/old/recommendations").status_code == 200


def test_a_path_that_is_not_utf8_is_refused_not_replaced(client):
    """%ff%fe and %fe%ff once both became U+FFFD U+FFFD: one viewer for two ids."""
    for path in ("/users/%ff%fe/history", "/users/%fe%ff/recommendations", "/films/%ff"):
        r = client.get(path)
        assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "path", path
    assert client.get("/users/%C3%A6ble/history").status_code == 200  # "æble" is fine


@pytest.fixture
def app_store():
    def store(client):
        with client.application.app_context():
            return personal().store
    return store


def test_an_events_film_is_found_exactly_never_guessed(client):
    """Data is not a person's query: a string that is an id is that film; a title must
    name one film (case, punctuation and numerals aside); a near miss or a shared title is
    refused with candidates, never attached to another film."""
    r = client.post("/events", json={"events": [
        {"user": "ann", "film": "rocky-ii-1979", "type": "like"},     # an id as a string
        {"user": "ann", "film": "ROCKY iv", "type": "like"},          # a title, normalised
        {"user": "ann", "film": "Rokcy", "type": "like"},             # a typo: refused
        {"user": "ann", "film": "rocky-ii-1980", "type": "like"},     # an id that isn't
        {"user": "ann", "film": {"title": "Rocky II", "year": 1999}, "type": "like"},
    ]})
    body = r.get_json()
    assert body["accepted"] == 2, body
    assert [(x["index"], x["error"]["code"]) for x in body["rejected"]] == [
        (2, "title_not_found"), (3, "title_not_found"), (4, "title_not_found")]
    assert body["rejected"][0]["error"]["suggestions"][0]["id"] == "rocky-1976"
    history = client.get("/users/ann/history").get_json()["events"]
    assert {e["film"]["id"] for e in history} == {"rocky-ii-1979", "rocky-iv-1985"}


def test_events_of_a_withdrawn_film_are_kept_as_history(client):
    """A film withdrawn online still has a past: its events are stored (history, training),
    and it is never recommended."""
    assert client.delete("/films/rocky-v-1990").status_code == 200
    r = client.post("/events", json={"events": [
        {"user": "bo", "film": "rocky-v-1990", "type": "view", "ts": "2020-01-01T00:00:00Z"},
        {"user": "bo", "film": {"id": "rocky-v-1990"}, "type": "like"},
        {"user": "bo", "film": "Rocky", "type": "like"}]})
    assert r.get_json()["accepted"] == 3, r.get_json()
    history = client.get("/users/bo/history").get_json()["events"]
    assert [e["film"]["id"] for e in history].count("rocky-v-1990") == 2
    recs = client.get("/users/bo/recommendations?k=10&include_seen=true").get_json()
    assert "rocky-v-1990" not in {f["id"] for f in recs["results"]}
