"""What each answer showed and what came of it (recommender/api/impressions.py,
viewers/impressions.py, storage/impressions.py, evaluation/online.py), over HTTP
against a SQLite file and a PostgreSQL server; experiments from a real file."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time

import pytest

from recommender.api import impressions as app_impressions
from recommender.api.app import create_app
from recommender.api.services import services, viewers
from recommender.distribution.live import LiveIndex
from recommender.errors import EventsUnavailable
from recommender.storage import open_store
from recommender.storage.impressions import Impression, ImpressionLog
from recommender.viewers.experiments import ExperimentsError
from recommender.viewers.impressions import ImpressionRecorder

EXPERIMENT = {"experiments": [{
    "name": "popular-vs-default", "surfaces": ["user_recommendations"],
    "variants": [{"name": "default", "weight": 1, "ranking": {}},
                 {"name": "popular", "weight": 1, "ranking": {"source": "popular"}}]}]}


@pytest.fixture
def app(settings, engine, events_url, tmp_path):
    path = tmp_path / "experiments.json"
    path.write_text(json.dumps(EXPERIMENT, indent=2))
    app = create_app(dataclasses.replace(settings, events_url=events_url,
                                         experiments=str(path)),
                     live=LiveIndex.serving(engine))
    yield app
    personal = viewers(app).personal
    if personal is not None:
        personal.store.close()


def _flush(app):
    with app.app_context():
        assert app_impressions.recorder().flush()


def _log(app) -> ImpressionLog:
    return ImpressionLog(viewers(app).open().store)


def test_every_answer_that_shows_films_is_recorded_with_its_surface(app):
    client = app.test_client()
    client.post("/events", json={"user": "ann", "film": "Rocky", "type": "like"})
    answers = {
        "user_recommendations": client.get("/users/ann/recommendations?k=3"),
        "user_rows": client.get("/users/ann/rows?rows=1&k=2"),
        "similar": client.get("/films/rocky-1976/similar?k=2"),
        "search": client.get("/search?q=bokser&k=2"),
        "recommend": client.post("/recommend", json={"positive": ["Rocky"], "k": 2}),
        "trending": client.get("/trending?k=2"),
    }
    _flush(app)
    log = _log(app)
    for surface, answer in answers.items():
        body = answer.get_json()
        imp = log.get(body["recommendation_id"])
        assert imp is not None and imp.surface == surface, surface
        shown = [f["id"] for row in body["rows"] for f in row["results"]] if "rows" in body \
            else [f["id"] for f in body["results"]]
        assert list(imp.films) == shown and imp.index_version == \
            services(app).live.engine().index.generation
    assert log.get(answers["user_rows"].get_json()["recommendation_id"]).user == "ann"
    assert log.get(answers["similar"].get_json()["recommendation_id"]).user is None
    assert client.get("/films/rocky-1976").status_code == 200  # no recommendation: none


def test_an_event_is_attributed_only_to_a_film_its_answer_showed(app):
    client = app.test_client()
    body = client.get("/films/rocky-1976/similar?k=3").get_json()
    shown = [f["id"] for f in body["results"]]
    rid = body["recommendation_id"]
    other = next(f["id"] for f in client.get("/films?limit=20").get_json()["films"]
                 if f["id"] not in shown and f["id"] != "rocky-1976")
    client.post("/events", json={"events": [
        {"user": "bo", "film": {"id": shown[0]}, "type": "click", "recommendation_id": rid},
        {"user": "bo", "film": {"id": shown[0]}, "type": "like", "recommendation_id": rid},
        {"user": "bo", "film": {"id": shown[1]}, "type": "rating", "value": 3,
         "recommendation_id": rid},  # not a conversion: under 4
        {"user": "bo", "film": {"id": other}, "type": "click", "recommendation_id": rid},
        {"user": "bo", "film": {"id": shown[2]}, "type": "view", "recommendation_id": "f" * 32},
    ]})
    _flush(app)
    stats = client.get("/admin/stats?days=1").get_json()
    (similar,) = [s for s in stats["surfaces"] if s["surface"] == "similar"]
    # one click: the click and the like of one film count once, the others not at all
    assert (similar["impressions"], similar["clicks"]) == (1, 1)
    assert similar["ctr"] == 1.0 and similar["conversions"]["click"] == 1 and \
        similar["conversions"]["like"] == 1 and similar["conversions"]["rating"] == 0
    assert stats["unattributed_events"] == 2  # a film it didn't show, a forged id
    low, high = similar["ctr_ci95"]
    assert 0 < low < 1 and high == 1.0
    # a click is not taste: bo's history has it, their profile doesn't
    assert [e["type"] for e in client.get("/users/bo/history").get_json()["events"]
            ].count("click") == 2


def test_a_viewers_erasure_takes_what_they_were_shown(app):
    client = app.test_client()
    client.post("/events", json={"user": "cy", "film": "Rocky", "type": "like"})
    rid = client.get("/users/cy/recommendations?k=2").get_json()["recommendation_id"]
    _flush(app)
    assert _log(app).get(rid) is not None
    assert client.delete("/users/cy").status_code == 204
    assert _log(app).get(rid) is None


def test_each_viewer_is_served_one_variant_everywhere_and_the_report_counts_it(app, settings,
                                                                             engine,
                                                                             events_url):
    client = app.test_client()
    variants = {}
    for i in range(40):
        user = f"v{i}"
        client.post("/events", json={"user": user, "film": "Rocky", "type": "like"})
        body = client.get(f"/users/{user}/recommendations?k=3").get_json()
        variants[user] = body["experiment"]["variant"]
        assert body["experiment"]["name"] == "popular-vs-default"
        if variants[user] == "popular":
            assert body["query"]["basis"] in ("popular", "trending")
        first = body["results"][0]["id"]
        client.post("/events", json={"user": user, "film": {"id": first}, "type": "click",
                                     "recommendation_id": body["recommendation_id"]})
    assert set(variants.values()) == {"default", "popular"}
    # another app (another worker, a restart) serves every viewer the same variant
    again = create_app(dataclasses.replace(settings, events_url=events_url,
                                           experiments=_experiments_path(app)),
                       live=LiveIndex.serving(engine)).test_client()
    for user, variant in list(variants.items())[:10]:
        assert again.get(f"/users/{user}/recommendations?k=3").get_json()[
            "experiment"]["variant"] == variant
    _flush(app)
    report = client.get("/admin/experiments/popular-vs-default").get_json()
    by_name = {v["name"]: v for v in report["variants"]}
    for name in ("default", "popular"):
        n = sum(1 for v in variants.values() if v == name)
        assert by_name[name]["viewers"] == n and by_name[name]["impressions"] == n
        assert by_name[name]["clicks"] == n and by_name[name]["ctr"] == 1.0
    assert by_name["default"]["lift_vs_control"] is None
    assert by_name["popular"]["lift_vs_control"] == 0.0 and by_name["popular"]["p_value"] == 1.0
    assert client.get("/admin/experiments/nope").status_code == 404
    refused = client.get("/admin/stats?days=0")
    assert refused.status_code == 400 and refused.get_json()["error"]["parameter"] == "days"


def _experiments_path(app) -> str:
    with app.app_context():
        from recommender.api.reports import experiments

        return experiments().source


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["experiments"][0]["variants"][1].update(weight=-1),
     "experiments[0].variants[1].weight"),
    (lambda d: d["experiments"][0]["variants"][1]["ranking"].update(source="nope"),
     "experiments[0].variants[1].ranking.source"),
    (lambda d: [v.update(weight=0) for v in d["experiments"][0]["variants"]],
     "experiments[0].variants"),
    (lambda d: d["experiments"][0].update(surfaces=["search"]),
     "experiments[0].variants[1].ranking"),
    (lambda d: d["experiments"][0]["variants"][1].update(ranking={"popular_weight": 1}) or
     d["experiments"][0].update(surfaces=["similar"]), "experiments[0].variants[1].ranking"),
])
def test_a_bad_experiments_file_stops_the_start_naming_its_line_and_field(
        tmp_path, settings, engine, change, field):
    data = json.loads(json.dumps(EXPERIMENT))
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(ExperimentsError, match=r"line \d+, " + re.escape(field) + ":"):
        create_app(dataclasses.replace(settings, experiments=str(path),
                                       events_url=f"sqlite:///{tmp_path / 'e.sqlite3'}"),
                   live=LiveIndex.serving(engine))
    for text, why in (('{"experiments": [\n  {"name": "x",,}]}', "line 2, column"),
                      (None, "can't be read")):
        if text is not None:
            path.write_text(text)
        else:
            path.unlink()
        with pytest.raises(ExperimentsError, match=why):
            create_app(dataclasses.replace(settings, experiments=str(path)),
                       live=LiveIndex.serving(engine))


def test_a_full_queue_drops_and_counts_and_never_holds_the_caller(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'e.sqlite3'}")
    gate = threading.Event()
    dropped: dict[str, int] = {}

    def slow_log():  # the database hangs until the gate opens
        gate.wait(10)
        return ImpressionLog(store)

    recorder = ImpressionRecorder(slow_log, queue_size=5, batch=100, flush_seconds=0,
                                  retention_days=1,
                                  on_dropped=lambda why, n: dropped.update({why: n}))
    started = time.perf_counter()
    results = [recorder.offer(Impression(f"r{i}", "search", ("a", "b"), time.time()))
               for i in range(50)]
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5 and results.count(True) <= 6  # the first may be in the writer's hands
    assert recorder.dropped["queue_full"] == results.count(False) >= 44
    gate.set()
    assert recorder.flush()
    assert recorder.written == results.count(True)
    store.close()


def test_a_database_that_refuses_drops_the_batch_and_counts_it():
    def down():
        raise EventsUnavailable("down", retry_after=1)

    recorder = ImpressionRecorder(down, queue_size=10, batch=10, flush_seconds=0,
                                  retention_days=1)
    for i in range(3):
        assert recorder.offer(Impression(f"r{i}", "search", ("a",), time.time()))
    assert recorder.flush()
    assert recorder.dropped["database"] == 3 and recorder.written == 0


def test_impressions_past_their_retention_are_forgotten(events_url):
    store = open_store(events_url)
    try:
        log = ImpressionLog(store)
        now = time.time()
        log.write([Impression("old", "search", ("a",), now - 100 * 86_400),
                   Impression("new", "search", ("a", "b"), now)])
        assert log.purge(now - 90 * 86_400) == 1
        assert log.get("old") is None and log.get("new").films == ("a", "b")
    finally:
        store.close()


def test_the_command_line_prints_what_the_routes_answer(app, tmp_path, capsys, monkeypatch):
    from recommender.cli.main import main

    client = app.test_client()
    client.post("/events", json={"user": "di", "film": "Rocky", "type": "like"})
    body = client.get("/users/di/recommendations?k=3").get_json()
    client.post("/events", json={"user": "di", "film": {"id": body["results"][0]["id"]},
                                 "type": "click", "recommendation_id": body["recommendation_id"]})
    _flush(app)
    url = viewers(app).settings.events_url
    index = str(viewers(app).settings.index)
    monkeypatch.setenv("RECOMMENDER_EXPERIMENTS", _experiments_path(app))
    assert main(["stats", "--json", "--days", "1", "--events-url", url, "--index", index]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["totals"] == client.get("/admin/stats?days=1").get_json()["totals"]
    assert main(["experiments", "popular-vs-default", "--json", "--events-url", url,
                 "--index", index]) == 0
    variants = json.loads(capsys.readouterr().out)["variants"]
    served = client.get("/admin/experiments/popular-vs-default").get_json()["variants"]
    assert [(v["name"], v["impressions"], v["clicks"]) for v in variants] == \
        [(v["name"], v["impressions"], v["clicks"]) for v in served]
    assert sum(v["impressions"] for v in variants) == 1
    assert main(["experiments", "--events-url", url, "--index", index]) == 0
    assert capsys.readouterr().out.startswith("popular-vs-default: user_recommendations")
    assert main(["stats", "--days", "0", "--events-url", url, "--index", index]) == 1
    assert main(["experiments", "nope", "--events-url", url, "--index", index]) == 1


def test_a_film_surface_takes_the_viewer_as_a_parameter_and_serves_their_variant(
        tmp_path, settings, engine):
    path = tmp_path / "experiments.json"
    path.write_text(json.dumps({"experiments": [
        {"name": "more-like-this", "surfaces": ["similar", "also_liked"],
         "variants": [{"name": "content", "weight": 1},
                      {"name": "popular", "weight": 1, "ranking": {"source": "popular"}}]},
        {"name": "front", "surfaces": ["trending"],
         "variants": [{"name": "trending", "weight": 1},
                      {"name": "popular", "weight": 1, "ranking": {"source": "popular"}}]},
        {"name": "labels", "surfaces": ["recommend", "search", "user_rows"],
         "variants": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]}]}))
    app = create_app(dataclasses.replace(settings, experiments=str(path),
                                         events_url=f"sqlite:///{tmp_path / 'e.sqlite3'}"),
                     live=LiveIndex.serving(engine))
    client = app.test_client()
    client.post("/events", json={"events": [
        {"user": f"w{i}", "film": "Lucky You", "type": "like"} for i in range(3)]})
    seen = {}
    for i in range(20):
        body = client.get(f"/films/rocky-1976/similar?k=3&user=u{i}").get_json()
        variant = body["experiment"]["variant"]
        seen[variant] = body
        if variant == "popular":  # what everyone watches, the film itself left out
            assert body["results"][0]["id"] == "lucky-you-2007"
            assert body["query"]["basis"] == "popular"
        else:
            assert [r["id"] for r in body["results"]] == [
                r["id"] for r in client.get("/films/rocky-1976/similar?k=3").get_json()[
                    "results"]]
        assert all(r["id"] != "rocky-1976" for r in body["results"])
        title = client.get(f"/similar?title=Rocky&k=3&user=u{i}").get_json()
        assert title["experiment"] == body["experiment"] and \
            [r["id"] for r in title["results"]] == [r["id"] for r in body["results"]]
    assert set(seen) == {"content", "popular"}
    anonymous = client.get("/films/rocky-1976/similar?k=3").get_json()
    assert "experiment" not in anonymous
    assert client.get("/trending?k=2&user=u1").get_json()["experiment"]["name"] == "front"
    assert client.get("/films/rocky-1976/similar?user=a%2Fb").status_code == 400
    # the surfaces a variant can't change are labelled, and say whose answer it was
    recommended = client.post("/recommend", json={"positive": ["Rocky"], "user": "u3"})
    searched = client.get("/search?q=bokser&user=u3").get_json()
    rows = client.get("/users/u3/rows").get_json()
    labels = {recommended.get_json()["experiment"]["variant"],
              searched["experiment"]["variant"], rows["experiment"]["variant"]}
    assert len(labels) == 1 and labels <= {"a", "b"}
    assert client.post("/recommend", json={"positive": ["Rocky"], "user": "a/b"}
                       ).status_code == 400
    _flush(app)
    assert _log(app).get(recommended.get_json()["recommendation_id"]).user == "u3"
    imp = _log(app).get(seen["popular"]["recommendation_id"])
    assert imp.surface == "similar" and imp.user is not None and imp.variant == "popular"


def test_every_surface_is_a_route_of_the_app_and_every_route_named_is_real(app):
    """The impression log names surfaces by route endpoint: a route renamed, or a surface
    no route records, fails here rather than recording nothing in silence."""
    from recommender.api.impressions import SURFACES
    from recommender.viewers.surfaces import Surface

    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(SURFACES) <= endpoints
    assert set(SURFACES.values()) == set(Surface)
