"""One contract for every kind of vector index a build can make (exact and HNSW), with a
brute-force numpy search over the same vectors as the reference answer."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.catalog.films import Catalog, Film
from recommender.index.ann import AnnSettings
from recommender.index.film_index import FilmIndex
from recommender.index.lexical import LexicalIndex
from recommender.index.store import load_index, write_index

N, DIM = 3_000, 32
KINDS = {"IndexFlatIP": AnnSettings(threshold=N + 1),
         "IndexHNSWFlat": AnnSettings(threshold=1, recall_sample=300)}
LEAST_RECALL = {"IndexFlatIP": 1.0, "IndexHNSWFlat": 0.9}


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    rng = np.random.default_rng(7)
    out = rng.normal(size=(N, DIM)).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture(scope="module", params=sorted(KINDS))
def kind(request, tmp_path_factory, vectors) -> tuple[str, FilmIndex]:
    films = [Film(id=f"f-{i}", title=f"Film {i}", synopsis=f"film {i}") for i in range(N)]
    out = tmp_path_factory.mktemp("ann-contract") / "idx"
    write_index(out, Catalog(films=films, source="synthetic", sha256="x"), vectors,
                model="synthetic", lexical=LexicalIndex.build(films, "en"), build_seconds=0,
                ann=KINDS[request.param])
    return request.param, load_index(out)


def _brute_force(vectors, query, k, allowed=None):
    rows = np.arange(len(vectors)) if allowed is None else np.flatnonzero(allowed)
    scores = vectors[rows] @ query
    return [int(rows[i]) for i in np.argsort(-scores, kind="stable")[:k]]


@pytest.mark.parametrize("share", [1.0, 0.3, 0.002])
def test_every_kind_answers_as_brute_force_does(kind, vectors, share):
    name, index = kind
    assert index.manifest["index_type"] == name
    rng = np.random.default_rng(11)
    overlaps = []
    for _ in range(15):
        query = vectors[rng.integers(N)] + rng.normal(scale=0.2, size=DIM)
        query = (query / np.linalg.norm(query)).astype(np.float32)
        allowed = None if share == 1.0 else rng.random(N) < share
        k = 10
        hits = index.search(query, k, allowed)
        expected = _brute_force(vectors, query, k, allowed)
        assert len(hits) == len(expected) == min(k, N if allowed is None else int(allowed.sum()))
        rows = [r for r, _ in hits]
        assert len(set(rows)) == len(rows)
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)
        np.testing.assert_allclose(scores, vectors[rows] @ query, atol=1e-4)  # true scores
        if allowed is not None:
            assert all(allowed[r] for r in rows)
        overlaps.append(len(set(rows) & set(expected)) / len(expected))
    assert np.mean(overlaps) >= LEAST_RECALL[name]


def test_every_kind_gives_what_there_is_when_k_is_more(kind, vectors):
    _, index = kind
    allowed = np.zeros(N, dtype=bool)
    allowed[[5, 17, 2_999]] = True
    hits = index.search(vectors[17], 10, allowed)
    assert sorted(r for r, _ in hits) == [5, 17, 2_999] and hits[0][0] == 17
    assert index.search(vectors[0], 10, np.zeros(N, dtype=bool)) == []
