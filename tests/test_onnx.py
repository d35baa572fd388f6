"""The ONNX export used for free-text queries: the same vectors and rankings as torch."""

import numpy as np
import pytest

from recommender.build import build_index
from recommender.config import Settings
from recommender.embedding import Embedder
from recommender.engine import Engine
from recommender.evaluation import load_labels
from recommender.index import load_index
from recommender.live import LiveIndex
from recommender.query import QueryOptions
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def exported(tmp_path_factory, seed_catalog):
    out = tmp_path_factory.mktemp("onnx") / "idx"
    embedder = Embedder(query_cache_size=0)  # its own: the session one stays on torch
    build_index(seed_catalog, embedder, out, progress=False, export_onnx=True)
    return out, embedder


def test_a_build_through_the_export_stores_the_torch_vectors(exported, embedder,
                                                             seed_catalog):
    out, _ = exported
    idx = load_index(out)
    torch_vectors = embedder.encode([f.synopsis for f in seed_catalog.films])
    np.testing.assert_allclose(idx.faiss_index.reconstruct_n(0, len(idx)), torch_vectors,
                               atol=2e-5)


def test_the_export_is_stored_beside_the_versions(exported):
    out, _ = exported
    idx = load_index(out)
    assert idx.manifest["query_model"] == "onnx/all-minilm-l6-v2.onnx"
    assert idx.query_model_path == out / "onnx" / "all-minilm-l6-v2.onnx"


@pytest.mark.parametrize("text", ["karate", "a boxer fights a Russian",
                                  "Ivan Drago og Apollo Creed", "bokser " * 400])
def test_onnx_vectors_equal_the_torch_vectors(exported, embedder, text):
    out, onnx = exported
    onnx.use_onnx(load_index(out).query_model_path)
    np.testing.assert_allclose(onnx.encode_query(text), embedder.encode([text])[0], atol=2e-5)


def test_onnx_and_torch_rank_every_labelled_query_the_same(exported, engine):
    out, onnx = exported
    idx = load_index(out)
    onnx.use_onnx(idx.query_model_path)
    fast = Engine(idx, onnx, engine.settings)
    labels = load_labels(ROOT / "seeds" / "labels" / "seeds.json")
    for query in labels.queries:
        options = QueryOptions(k=8, mode="semantic")
        assert [r.film.id for r in fast.search(query.q, options).results] == \
            [r.film.id for r in engine.search(query.q, options).results], query.q


@pytest.mark.parametrize("backend, expected", [("onnx", True), ("torch", False)])
def test_the_server_uses_the_export_unless_told_not_to(exported, backend, expected):
    out, _ = exported
    embedder = Embedder()
    live = LiveIndex(Settings(index=out, query_backend=backend, reload_poll_seconds=0),
                     embedder)
    live.start()
    assert (embedder.onnx_path is not None) is expected
    assert live.engine().search("poker", QueryOptions(k=1)).results[0].film.id == \
        "lucky-you-2007"


def test_exporting_leaves_the_torch_model_as_it_was(tmp_path, seed_catalog):
    """Tracing once changed the traced model: later torch queries in the building
    process came out different (found by scripts/bench_embed.py)."""
    embedder = Embedder(query_cache_size=0)
    build_index(seed_catalog, embedder, tmp_path / "idx", progress=False, export_onnx=True)
    embedder.use_onnx(None)  # back to torch: is it still the model it was?
    for text in ("a heist in Spain 0", "zombie apocalypse survivors 1"):
        np.testing.assert_allclose(embedder.encode_query(text), embedder.encode([text])[0],
                                   atol=1e-6)
