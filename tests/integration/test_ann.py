"""The approximate (HNSW) index used above a catalog-size threshold, against exact search."""

import numpy as np
import pytest

from recommender.catalog.films import Catalog, Film
from recommender.index.ann import AnnSettings
from recommender.index.build import build_index
from recommender.index.lexical import LexicalIndex
from recommender.index.store import load_index, write_index
from recommender.search.engine import Engine
from recommender.search.query import QueryOptions


def test_hnsw_above_the_threshold_answers_like_exact_search(tmp_path, seed_catalog, embedder,
                                                            engine):
    out = tmp_path / "idx"
    build_index(seed_catalog, embedder, out, progress=False, ann=AnnSettings(threshold=1))
    idx = load_index(out)
    assert idx.manifest["index_type"] == "IndexHNSWFlat" and idx.approximate
    assert idx.manifest["ann"]["recall_at_10"] == 1.0
    approx = Engine(idx, embedder, engine.settings)
    for film in seed_catalog.films:
        for options in (QueryOptions(k=7, mode="semantic"),
                        QueryOptions(k=3, mode="semantic", year_min=1980, year_max=1989)):
            assert [r.film.id for r in approx.similar(film.id, options).results] == \
                [r.film.id for r in engine.similar(film.id, options).results]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    n, dim = 12_000, 64
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    films = [Film(id=f"f-{i}", title=f"Film {i}", synopsis=f"film {i}", year=1950 + i % 70)
             for i in range(n)]
    catalog = Catalog(films=films, source="synthetic", sha256="x")
    out = tmp_path_factory.mktemp("ann") / "idx"
    write_index(out, catalog, vectors, model="synthetic", lexical=LexicalIndex.build(films, "en"),
                build_seconds=0, ann=AnnSettings(threshold=10_000, recall_sample=500))
    return load_index(out), vectors


def test_recall_is_measured_at_build_time(synthetic):
    idx, _ = synthetic
    ann = idx.manifest["ann"]
    assert idx.manifest["index_type"] == "IndexHNSWFlat"
    assert ann["recall_sample"] == 500 and ann["recall_at_10"] >= 0.95
    assert ann["ef_search"] in (64, 128, 256, 512, 1024, 2048, 4096)


@pytest.mark.parametrize("share", [1.0, 0.5, 0.01])
def test_filtered_search_fills_k_and_agrees_with_brute_force(synthetic, share):
    idx, vectors = synthetic
    rng = np.random.default_rng(2)
    overlaps = []
    for _ in range(20):
        q = vectors[rng.integers(len(vectors))] + rng.normal(scale=0.1, size=vectors.shape[1])
        q = (q / np.linalg.norm(q)).astype(np.float32)
        allowed = None if share == 1.0 else rng.random(len(vectors)) < share
        hits = idx.search(q, 10, allowed)
        assert len(hits) == 10
        scores = vectors @ q
        if allowed is not None:
            assert all(allowed[r] for r, _ in hits)
            scores = np.where(allowed, scores, -np.inf)
        truth = set(np.argsort(-scores)[:10])
        overlaps.append(len(truth & {r for r, _ in hits}) / 10)
    assert np.mean(overlaps) >= 0.9


def test_loaded_index_is_memory_mapped_and_keeps_its_ef_search(synthetic):
    idx, _ = synthetic
    assert idx.faiss_index.hnsw.efSearch == idx.manifest["ann"]["ef_search"] >= 64
    with open("/proc/self/maps") as fh:
        maps = fh.read()
    # the vectors are a shared file mapping, not a private copy in each process
    assert str(idx.path / "index.faiss") in maps
