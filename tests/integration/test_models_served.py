"""The HTTP routes on a multilingual (e5) index."""

import urllib.parse

from recommender.config import Settings
from recommender.embedding.models import (
    E5_SMALL,
)
from recommender.index.build import build_index


def test_the_http_routes_answer_on_a_multilingual_index(tmp_path, seed_catalog, e5):
    """/search, /similar, /map and a viewer's recommendations, on an e5 index, through the
    app a worker runs (its model made from the index's manifest)."""
    from recommender.api.app import create_app

    out = tmp_path / "idx"
    build_index(seed_catalog, e5, out, progress=False)
    app = create_app(Settings(index=out, reload_poll_seconds=0,
                              events_url=f"sqlite:///{tmp_path / 'events.sqlite3'}"))
    client = app.test_client()
    ready = client.get("/ready").get_json()
    assert ready["model"] == E5_SMALL.name
    hit = client.get("/search?q=" + urllib.parse.quote(
        "en gambler i Las Vegas skal finde penge til verdens største kortturnering")
        + "&k=1&mode=semantic").get_json()
    assert hit["results"][0]["id"] == "lucky-you-2007"
    similar = client.get("/similar?title=Rocky&k=4").get_json()
    assert {r["id"] for r in similar["results"]} <= {"rocky-ii-1979", "rocky-iii-1982",
                                                     "rocky-iv-1985", "rocky-v-1990",
                                                     "chariots-of-fire-1981"}
    points = client.get("/map").get_json()
    assert points["total"] == 8 and len(points["points"]) == 8
    assert client.post("/events", json={"events": [
        {"user": "ann", "film": "Rocky", "type": "like"}]}).get_json()["accepted"] == 1
    recs = client.get("/users/ann/recommendations?k=3").get_json()
    assert recs["results"] and "rocky-1976" not in {r["id"] for r in recs["results"]}
