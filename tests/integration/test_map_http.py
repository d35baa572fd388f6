"""GET /map: every film once, colours, limits, compression."""




def test_the_map_places_every_film_once_in_the_unit_square(client, engine):
    body = client.get("/map").get_json()
    assert body["method"] == "pca" and body["total"] == len(engine.index) == 8
    ids = [p["id"] for p in body["points"]]
    assert sorted(ids) == sorted(f.id for f in engine.index.films)
    assert all(0 <= p["x"] <= 1 and 0 <= p["y"] <= 1 for p in body["points"])
    assert 0 < sum(body["explained_variance"]) <= 1
    by_id = {p["id"]: p for p in body["points"]}
    assert by_id["rocky-1976"]["title"] == "Rocky" and by_id["rocky-1976"]["group"] == "Drama"
    assert sum(g["count"] for g in body["groups"]) == 8


def test_colour_by_decade_and_a_limit(client):
    body = client.get("/map?color_by=year&limit=3").get_json()
    assert len(body["points"]) == 3 and body["total"] == 8
    assert {p["group"] for p in body["points"]} <= {"1970s", "1980s", "1990s", "2000s"}
    for bad in ("color_by=colour", "limit=0", "limit=20001", "nope=1"):
        r = client.get(f"/map?{bad}")
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_parameter"


def test_a_small_map_is_sent_as_it_is(client):
    r = client.get("/map", headers={"Accept-Encoding": "gzip, deflate"})
    assert "Content-Encoding" not in r.headers and r.get_json()["total"] == 8
