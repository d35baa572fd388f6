"""The catalog changed while it serves, over HTTP (recommender/api/catalog.py), against a
SQLite file and a PostgreSQL server: routes, bad input, the admin rule, two processes'
apps on one database, and the database down."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from recommender.api.app import create_app
from recommender.api.services import viewers
from recommender.distribution.live import LiveIndex
from recommender.storage import open_store
from recommender.storage.catalog_log import CatalogLog
from tests.ops import free_port

MARS = {"title": "Rumbokseren", "year": 2026,
        "synopsis": "En ung bokser fra Mars træner hårdt til boksekampen om solsystemets "
                    "mesterskab mod en frygtet champion."}


def _app(settings, engine, url, **changes):
    return create_app(dataclasses.replace(settings, events_url=url, catalog_poll_seconds=0,
                                          **changes), live=LiveIndex.serving(engine))


@pytest.fixture
def apps(settings, engine, events_url):
    """Two apps on one database: two workers (or replicas) of one service."""
    made = [_app(settings, engine, events_url), _app(settings, engine, events_url)]
    yield made
    for app in made:
        if viewers(app).personal is not None:
            viewers(app).personal.store.close()


def _stored(url: str) -> int:
    store = open_store(url)
    try:
        return CatalogLog(store).latest()
    finally:
        store.close()


def test_a_film_is_added_replaced_patched_and_withdrawn(apps):
    client = apps[0].test_client()
    r = client.put("/films/rumbokseren-2026", json=MARS)
    assert r.status_code == 201 and r.get_json()["status"] == "created"
    assert client.get("/films/rumbokseren-2026").get_json()["title"] == "Rumbokseren"
    hits = client.get("/search?q=bokser+fra+Mars&k=1").get_json()["results"]
    assert [h["id"] for h in hits] == ["rumbokseren-2026"]
    assert client.get("/similar?title=Rumbokseren&k=2").get_json()["query"]["resolved"][
        "id"] == "rumbokseren-2026"
    r = client.put("/films/rumbokseren-2026", json={**MARS, "year": 2027})
    assert r.status_code == 200 and r.get_json()["status"] == "replaced"
    r = client.patch("/films/rumbokseren-2026", json={"genres": ["Sport"]})
    assert r.status_code == 200
    assert r.get_json()["film"]["year"] == 2027 and r.get_json()["film"]["genres"] == ["Sport"]
    r = client.delete("/films/rumbokseren-2026")
    assert r.status_code == 200 and r.get_json()["status"] == "withdrawn"
    assert client.get("/films/rumbokseren-2026").status_code == 404
    assert client.delete("/films/rumbokseren-2026").status_code == 404
    assert client.patch("/films/no-such-film", json={"year": 2000}).status_code == 404
    total = client.get("/films?limit=100").get_json()["total"]
    assert client.delete("/films/rocky-1976").status_code == 200
    assert client.get("/films?limit=100").get_json()["total"] == total - 1
    ready = client.get("/ready").get_json()["catalog"]
    assert (ready["withdrawn"], ready["added"], ready["database"]) == (1, 0, "ok")
    assert ready["newest_change_at"] is not None


def test_another_worker_sees_the_changes_at_its_next_poll_and_a_new_one_at_start(
        apps, settings, engine, events_url):
    first, second = (a.test_client() for a in apps)
    assert first.put("/films/rumbokseren-2026", json=MARS).status_code == 201
    assert first.delete("/films/rocky-1976").status_code == 200
    assert second.get("/films/rumbokseren-2026").status_code == 404  # not polled yet
    assert viewers(apps[1]).live.catalog.poll()
    assert second.get("/films/rumbokseren-2026").status_code == 200
    assert second.get("/films/rocky-1976").status_code == 404
    restarted = _app(settings, engine, events_url).test_client()  # a restart, a new replica
    assert restarted.get("/films/rumbokseren-2026").status_code == 200
    assert restarted.get("/films/rocky-1976").status_code == 404


@pytest.mark.parametrize(("method", "path", "body", "status", "parameter"), [
    ("put", "/films/rumbokseren-2026", {"title": "x"}, 400, "synopsis"),
    ("put", "/films/rumbokseren-2026", {"synopsis": "x"}, 400, "title"),
    ("put", "/films/Rum_Bokseren", MARS, 400, "id"),
    ("put", "/films/rumbokseren-2026", {**MARS, "available_from": "2027-01-02T00:00:00Z",
                                        "available_until": "2027-01-01T00:00:00Z"},
     400, "available_until"),
    ("put", "/films/rumbokseren-2026", {**MARS, "rating": 5}, 400, "rating"),
    ("put", "/films/rumbokseren-2026", [MARS], 400, "body"),
    ("patch", "/films/rocky-1976", {"available_until": "tomorrow"}, 400, "available_until"),
    ("post", "/films/bulk", {"changes": [{"op": "put", "film": {"id": "a-1", **MARS}},
                                         {"op": "put", "film": {"id": "b-1", "title": "B"}}]},
     400, "synopsis"),
    ("post", "/films/bulk", {"changes": [{"op": "delete", "id": "rocky-1976"}] * 1001},
     400, "changes"),
    ("post", "/films/bulk", {"films": []}, 400, "changes"),
])
def test_bad_input_names_the_field_and_stores_nothing(apps, events_url, method, path, body,
                                                       status, parameter):
    r = getattr(apps[0].test_client(), method)(path, json=body)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"]["parameter"] == parameter
    assert _stored(events_url) == 0


def test_bodies_that_are_not_json_or_too_large_are_refused(apps, events_url):
    client = apps[0].test_client()
    r = client.put("/films/rumbokseren-2026", data=b'{"title": "\xff"}',
                   content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_json"
    r = client.put("/films/rumbokseren-2026", data="title=x")
    assert r.status_code == 415
    r = client.put("/films/rumbokseren-2026", json={**MARS, "synopsis": "x" * 2_000_000})
    assert r.status_code == 413
    assert _stored(events_url) == 0


def test_a_bulk_request_is_stored_whole_and_counted(apps, events_url):
    client = apps[0].test_client()
    changes = [{"op": "put", "film": {"id": f"film-{i}", "title": f"Film {i}",
                                      "synopsis": f"En film om bokser nummer {i}."}}
               for i in range(300)]
    changes += [{"op": "patch", "id": "rocky-1976", "fields": {"year": 1977}},
                {"op": "delete", "id": "rocky-v-1990"}]
    r = client.post("/films/bulk", json={"changes": changes})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["created"], body["replaced"], body["withdrawn"]) == (300, 1, 1)
    assert _stored(events_url) == 302
    assert client.get("/films/film-299").status_code == 200
    assert client.get("/films/rocky-1976").get_json()["year"] == 1977
    r = client.post("/films/bulk", json={"changes": [
        {"op": "delete", "id": "film-1"}, {"op": "delete", "id": "no-such-film"}]})
    assert r.status_code == 404 and _stored(events_url) == 302  # all or nothing
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'recommender_catalog_changes_total{op="add"} 300.0' in metrics


def test_two_writers_of_one_film_at_once_one_wins_whole(apps, events_url):
    clients = [a.test_client() for a in apps]
    bodies = [{**MARS, "title": f"Writer {w}", "year": 2000 + w, "genres": [f"G{w}"]}
              for w in range(2)]
    barrier = threading.Barrier(2)

    def write(w: int) -> None:
        barrier.wait()
        for _ in range(5):
            clients[w].put("/films/rumbokseren-2026", json=bodies[w])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for app in apps:
        viewers(app).live.catalog.poll()
    seen = [c.get("/films/rumbokseren-2026").get_json() for c in clients]
    assert seen[0] == seen[1]
    winner = int(seen[0]["title"][-1])
    assert (seen[0]["year"], seen[0]["genres"]) == (2000 + winner, [f"G{winner}"])
    assert _stored(events_url) == 10


def test_two_patches_at_once_both_apply_one_after_the_other(apps):
    clients = [a.test_client() for a in apps]
    barrier = threading.Barrier(2)
    fields = [{"year": 1977}, {"genres": ["Boxing"]}]

    def patch(w: int) -> None:
        barrier.wait()
        assert clients[w].patch("/films/rocky-1976", json=fields[w]).status_code == 200

    threads = [threading.Thread(target=patch, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    viewers(apps[0]).live.catalog.poll()
    film = clients[0].get("/films/rocky-1976").get_json()
    assert (film["year"], film["genres"]) == (1977, ["Boxing"])


def test_writes_need_the_admin_key_where_one_is_set(settings, engine, tmp_path):
    url = f"sqlite:///{tmp_path / 'e.sqlite3'}"
    keyed = _app(settings, engine, url, admin_keys="sesame").test_client()
    assert keyed.put("/films/rumbokseren-2026", json=MARS).status_code == 401
    assert keyed.put("/films/rumbokseren-2026", json=MARS,
                     headers={"X-API-Key": "wrong"}).status_code == 403
    assert keyed.put("/films/rumbokseren-2026", json=MARS,
                     headers={"X-API-Key": "sesame"}).status_code == 201
    assert keyed.get("/films/rumbokseren-2026").status_code == 200  # reads stay open
    public = _app(settings, engine, url, host="0.0.0.0").test_client()
    r = public.delete("/films/rocky-1976")
    assert r.status_code == 403 and "RECOMMENDER_ADMIN_KEYS" in r.get_json()["error"]["message"]


def test_the_database_down_is_a_503_and_reads_go_on(settings, engine):
    url = f"postgresql://recommender@127.0.0.1:{free_port()}/nowhere"
    client = _app(settings, engine, url, request_budget_seconds=1.0).test_client()
    r = client.put("/films/rumbokseren-2026", json=MARS)
    assert r.status_code == 503, r.get_json()
    assert r.get_json()["error"]["code"] == "catalog_unavailable"
    assert r.headers["Retry-After"] and "127.0.0.1" not in r.get_data(as_text=True)
    assert client.get("/films/rocky-1976").status_code == 200
    assert client.get("/search?q=bokser").status_code == 200
    assert client.get("/ready").get_json()["catalog"]["database"] != "ok"


def test_a_licence_ending_hides_the_film_when_the_clock_passes_it(apps):
    """No change is made at the end of a window: the follower knows when it is and makes
    the catalog again once the clock has passed it."""
    client = apps[0].test_client()
    ends = datetime.now(UTC) + timedelta(seconds=3)
    r = client.put("/films/rumbokseren-2026", json={
        **MARS, "available_until": ends.isoformat(timespec="milliseconds")})
    assert r.status_code == 201
    catalog = viewers(apps[0]).live.catalog
    assert client.get("/films/rumbokseren-2026").status_code == 200
    assert client.get("/ready").get_json()["catalog"]["next_window_change_at"] is not None
    if time.time() < ends.timestamp() - 0.5:  # a loaded machine may be past it already
        assert not catalog.poll()  # nothing new, and the licence still runs
    time.sleep(max(0.0, ends.timestamp() - time.time()) + 0.1)
    assert catalog.poll()  # the clock passed the edge: the catalog is made again
    assert client.get("/films/rumbokseren-2026").status_code == 404
    assert client.get("/ready").get_json()["catalog"]["hidden"] == 1


def test_a_bulk_body_may_be_larger_than_other_bodies(apps, events_url):
    """POST /films/bulk takes up to catalog_max_body_bytes (8 MiB), other bodies 1 MiB."""
    long = "En lang beskrivelse af en bokser. " * 280  # ~9.5 KB a film (the model reads
    changes = [{"op": "put", "film": {"id": f"film-{i}", "title": f"Film {i}",  # its start)
                                      "synopsis": long}} for i in range(120)]
    body = json.dumps({"changes": changes})
    assert len(body) > 1024 * 1024
    r = apps[0].test_client().post("/films/bulk", data=body, content_type="application/json")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["created"] == 120 and _stored(events_url) == 120
