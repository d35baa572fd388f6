"""GET /map and its projection (recommender/projection.py): every film on the plane."""

import numpy as np

from recommender.search.projection import CatalogMap


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


def test_films_alike_are_near_each_other(engine):
    """The Rocky films' centre is nearer to each Rocky film than the other films are."""
    xy = engine.catalog_map().xy
    rows = [engine.index.row_of[f.id] for f in engine.index.films if f.title.startswith("Rocky")]
    others = [r for r in range(len(engine.index)) if r not in rows]
    centre = xy[rows].mean(axis=0)
    assert np.linalg.norm(xy[rows] - centre, axis=1).mean() < \
        np.linalg.norm(xy[others] - centre, axis=1).mean()


def test_the_projection_is_pca_of_the_stored_vectors(engine):
    vectors = engine.index.faiss_index.reconstruct_n(0, len(engine.index)).astype(np.float64)
    centred = vectors - vectors.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:2].T
    got = CatalogMap.compute(engine.index)
    for axis in range(2):  # the same axes, up to their sign and one scale
        corr = np.corrcoef(expected[:, axis], got.xy[:, axis])[0, 1]
        assert abs(corr) > 0.9999
    assert got.explained[0] == __import__("pytest").approx(s[0] ** 2 / (s ** 2).sum(), rel=1e-6)


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
