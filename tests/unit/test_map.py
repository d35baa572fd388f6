"""GET /map and its projection (recommender/projection.py): every film on the plane."""

import numpy as np

from recommender.search.projection import CatalogMap


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
