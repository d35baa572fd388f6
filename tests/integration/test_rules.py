"""The rules file at work over HTTP: a promotion takes exactly its places, marked, and its
click-through is reported apart; a pin holds its place inside its window and not outside
it; a boost lifts what it matches; no rule shows a film the context forbids; a bad file
stops the start naming its line and field; ``POST /users/{user}/rank`` orders the films
given, and only those."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from recommender.api.app import create_app
from recommender.api.services import viewers
from recommender.distribution.live import LiveIndex
from recommender.viewers.rules import RulesError, load_rules

ORIGINALS = ("lucky-you-2007", "chariots-of-fire-1981", "rocky-v-1990")


def _rules(tmp_path, **rules) -> str:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"filters": {"originals": "attributes.original"}, **rules},
                               indent=2), encoding="utf-8")
    return str(path)


def _client(settings, engine, tmp_path, rules_file):
    app = create_app(dataclasses.replace(
        settings, events_url=f"sqlite:///{tmp_path / 'events.sqlite3'}",
        catalog_poll_seconds=0, rules=rules_file, impressions_flush_seconds=0.05),
        live=LiveIndex.serving(engine))
    client = app.test_client()
    for film in ORIGINALS:
        assert client.patch(f"/films/{film}", json={"attributes": {"original": True}}
                            ).status_code == 200
    assert client.patch("/films/rocky-1976", json={"territories": [{"country": "DK"}]}
                        ).status_code == 200
    events = [{"user": "ann", "film": {"id": f}, "type": "like"}
              for f in ("rocky-iii-1982", "rocky-iv-1985")]
    assert client.post("/events", json={"events": events}).status_code == 200
    return app, client


@pytest.fixture
def served(settings, engine, tmp_path):
    made = []

    def serve(**rules):
        made.append(_client(settings, engine, tmp_path, _rules(tmp_path, **rules)))
        return made[-1][1]
    yield serve
    for app, _ in made:
        if viewers(app).personal is not None:
            viewers(app).personal.store.close()


def _page(client, path):
    r = client.get(path)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_promotion_takes_exactly_its_places_marked(served):
    client = served(promote=[{"name": "originals-first", "surface": "user_recommendations",
                              "filter": "@originals", "places": 2, "of_first": 5}])
    plain = _page(client, "/users/ann/recommendations?k=6&country=DK&filter=not+"
                  "attributes.original")  # what the organic ranking puts first
    body = _page(client, "/users/ann/recommendations?k=6&country=DK")
    first = body["results"][:5]
    promoted = [h for h in first if h.get("promoted")]
    assert len(promoted) == 2 and all(h["promoted"] == "originals-first" for h in promoted)
    assert {h["id"] for h in promoted} <= set(ORIGINALS)
    assert not any(h.get("promoted") for h in body["results"][5:])
    organic = [h["id"] for h in first if not h.get("promoted")]
    assert organic == [h["id"] for h in plain["results"]][:len(organic)]
    # another surface has no promotion
    assert not any(h.get("promoted") for h in
                   _page(client, "/search?q=bokser&k=6&country=DK")["results"])


def test_promoted_and_organic_click_through_are_reported_apart(served):
    client = served(promote=[{"name": "originals-first", "surface": "search",
                              "filter": "@originals", "places": 1, "of_first": 3}])
    body = _page(client, "/search?q=bokser&k=3&country=DK&user=bob")
    promoted = next(h["id"] for h in body["results"] if h.get("promoted"))
    organic = next(h["id"] for h in body["results"] if not h.get("promoted"))
    assert client.post("/events", json={"user": "bob", "film": {"id": promoted},
                                        "type": "click",
                                        "recommendation_id": body["recommendation_id"]}
                       ).status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        placements = _page(client, "/admin/stats")["placements"]
        if placements:
            break
        time.sleep(0.1)
    rows = {(p["surface"], p["placement"]): p for p in placements}
    assert rows[("search", "promoted")] | {"click_through": None} == {
        "surface": "search", "placement": "promoted", "films_shown": 1, "clicks": 1,
        "click_through": None}
    assert rows[("search", "organic")]["films_shown"] == 2
    assert rows[("search", "organic")]["clicks"] == 0 and organic


def test_a_pin_holds_its_place_in_its_window_and_not_outside(served):
    now = time.time()
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600))
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600))
    client = served(pin=[
        {"name": "weekend", "surface": "user_recommendations", "film": "lucky-you-2007",
         "place": 1, "from": iso, "until": later},
        {"name": "next-week", "surface": "user_recommendations", "film": "rocky-v-1990",
         "place": 2, "from": later},
        {"name": "danish-only", "surface": "search", "film": "rocky-1976", "place": 1}])
    results = _page(client, "/users/ann/recommendations?k=4&country=DK")["results"]
    assert results[0]["id"] == "lucky-you-2007" and results[0]["promoted"] == "weekend"
    assert not any(h.get("promoted") == "next-week" for h in results)
    # a pin never shows a film the context forbids
    sweden = _page(client, "/search?q=bokser&k=4&country=SE")["results"]
    assert "rocky-1976" not in {h["id"] for h in sweden}
    denmark = _page(client, "/search?q=kærlighed&k=4&country=DK")["results"]
    assert denmark[0]["id"] == "rocky-1976" and denmark[0]["promoted"] == "danish-only"


def test_a_boost_lifts_what_it_matches(served):
    client = served(boost=[{"name": "originals", "filter": "@originals", "factor": 50,
                            "surfaces": ["similar"]}])
    body = _page(client, "/films/rocky-iii-1982/similar?k=3&country=DK")
    assert {h["id"] for h in body["results"]} <= set(ORIGINALS)


def test_rank_orders_the_films_given_and_only_those(served):
    client = served()
    given = ["rocky-v-1990", "lucky-you-2007", "rocky-ii-1979", "rocky-iii-1982",  # she liked
             "rocky-1976", "no-such-film"]
    r = client.post("/users/ann/rank", json={"films": given, "context": {"country": "SE"}})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert sorted(h["id"] for h in body["results"]) == sorted(given[:4])
    assert body["has_more"] is False
    assert body["query"]["unknown"] == ["no-such-film"]
    assert body["query"]["not_available"] == [{"id": "rocky-1976", "reason": "territory"}]
    assert all(h["reasons"] for h in body["results"]) and body["recommendation_id"]
    sequels_first = [h["id"] for h in body["results"]][:2]
    assert "lucky-you-2007" not in sequels_first  # ann likes Rocky III and IV
    r = client.post("/users/ann/rank", json={"films": ["x"] * 501})
    assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "films"


@pytest.mark.parametrize("rules, says", [
    ({"promote": [{"name": "a", "surface": "nowhere", "filter": "year > 1",
                   "places": 1, "of_first": 2}]}, "line 8, promote[0].surface"),
    ({"promote": [{"name": "a", "surface": "search", "filter": "year >",
                   "places": 1, "of_first": 2}]}, "promote[0].filter: the filter does not parse"),
    ({"boost": [{"name": "b", "filter": "@nope", "factor": 2}]}, "@nope is not a named filter"),
    ({"pin": [{"name": "p", "surface": "search", "film": "x", "place": 1,
               "from": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}]},
     "pin[0].until: until must be after from"),
    ({"promote": [{"name": "a", "surface": "search", "filter": "year > 1",
                   "places": 3, "of_first": 2}]}, "places must be at most of_first"),
])
def test_a_bad_rules_file_is_refused_naming_line_and_field(tmp_path, rules, says):
    with pytest.raises(RulesError, match="RECOMMENDER_RULES") as refused:
        load_rules(_rules(tmp_path, **rules))
    assert says in str(refused.value)


def test_a_rule_on_an_attribute_no_film_has_is_left_out_not_a_400(served):
    client = served(promote=[{"name": "typo", "surface": "search",
                              "filter": "attributes.orignal", "places": 1, "of_first": 3}],
                    boost=[{"name": "typo-too", "filter": "attributes.studio", "factor": 2}])
    body = _page(client, "/search?q=bokser&k=3&country=DK")
    assert body["results"] and not any(h.get("promoted") for h in body["results"])
