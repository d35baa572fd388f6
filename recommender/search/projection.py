"""A map of the catalog: every film's vector projected onto the plane (``GET /map``).

PCA, from numpy: the two directions along which the films' vectors vary most. Chosen by
measurement over UMAP on the Netflix catalog (docs/web-page.md, "The map"): PCA takes
0.15 s and no dependency; umap-learn took 62 s to fit plus 19.5 s to import (numba,
llvmlite: 260 MB installed) and 660 MB of memory, per version, on this machine's 2
cores. UMAP keeps more of each film's neighbourhood on the plane (11.7% of its 10
nearest films are among its 10 nearest points, against 1.3%) but neither makes the map
a way to find neighbours: the page rings a film's real "more like this" films, from the
index, wherever they fall. The map shows where a film sits in the catalog as a whole.
Coordinates are scaled into [0, 1] by one factor, so distances keep their proportions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from recommender.index.film_index import FilmIndex

METHOD = "pca"


@dataclass(frozen=True)
class CatalogMap:
    """Row i of ``xy`` is film i's place on the map."""

    xy: np.ndarray
    explained: tuple[float, float]
    """The share of the vectors' variance each axis shows."""
    seconds: float

    @classmethod
    def compute(cls, index: FilmIndex) -> CatalogMap:
        started = time.perf_counter()
        n = len(index)
        if n < 3:  # nothing to project: the films side by side
            xy = np.column_stack([np.linspace(0, 1, n), np.full(n, 0.5)]) if n else \
                np.empty((0, 2))
            return cls(xy, (1.0, 0.0), time.perf_counter() - started)
        vectors = index.faiss_index.reconstruct_n(0, n).astype(np.float64)
        centred = vectors - vectors.mean(axis=0)
        # eigenvectors of the d x d covariance: cheaper than an SVD of the n x d matrix
        values, vecs = np.linalg.eigh(centred.T @ centred)
        top = np.argsort(values)[::-1][:2]
        xy = centred @ vecs[:, top]
        xy -= xy.min(axis=0)
        xy /= max(float(xy.max()), 1e-12)
        total = float(values.sum()) or 1.0
        explained = (float(values[top[0]] / total), float(values[top[1]] / total))
        return cls(xy.astype(np.float32), explained, time.perf_counter() - started)


def group_of(genres: tuple[str, ...], year: int | None, color_by: str) -> str:
    """What colours a point: the film's first genre, or its decade."""
    if color_by == "year":
        return f"{year // 10 * 10}s" if year is not None else "unknown"
    return genres[0] if genres else "none"
