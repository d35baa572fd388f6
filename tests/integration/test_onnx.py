"""The ONNX export used for free-text queries: the same vectors and rankings as torch."""

import numpy as np
import pytest

from recommender.config import Settings
from recommender.distribution.live import LiveIndex
from recommender.embedding.embedder import Embedder
from recommender.evaluation.search_quality import load_labels
from recommender.index.build import build_index
from recommender.index.store import load_index
from recommender.search.engine import Engine
from recommender.search.query import QueryOptions
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def exported(tmp_path_factory, seed_catalog):
    out = tmp_path_factory.mktemp("onnx") / "idx"
    embedder = Embedder(query_cache_size=0)  # its own: the session one stays on torch
    build_index(seed_catalog, embedder, out, progress=False, export_onnx=True)
    return out, embedder


def test_an_fp32_build_through_the_export_stores_the_torch_vectors(tmp_path, embedder,
                                                                   seed_catalog):
    report = build_index(seed_catalog, Embedder(), tmp_path / "idx", progress=False,
                         export_onnx=True, precision="fp32")
    idx = load_index(report.path)
    assert idx.manifest["embeddings"] | {"embedded": 8} == {
        "reused": 0, "embedded": 8, "from_version": None, "runtime": "openvino",
        "precision": "fp32"}
    torch_vectors = embedder.encode([f.synopsis for f in seed_catalog.films])
    np.testing.assert_allclose(idx.faiss_index.reconstruct_n(0, len(idx)), torch_vectors,
                               atol=2e-5)


def test_a_default_build_embeds_in_bf16_close_to_torch(exported, embedder, seed_catalog):
    """bf16 where the CPU has it (else OpenVINO says fp32): vectors within a cosine of
    0.999 of torch's, and every film's neighbours in the same order."""
    out, _ = exported
    idx = load_index(out)
    assert idx.manifest["embeddings"]["runtime"] == "openvino"
    assert idx.manifest["embeddings"]["precision"] in ("bf16", "fp32")
    built = idx.faiss_index.reconstruct_n(0, len(idx))
    torch_vectors = embedder.encode([f.synopsis for f in seed_catalog.films])
    assert np.min(np.sum(built * torch_vectors, axis=1)) > 0.999
    for a, b in zip(built @ built.T, torch_vectors @ torch_vectors.T, strict=True):
        assert list(np.argsort(-a)) == list(np.argsort(-b))


@pytest.mark.parametrize("before", ["torch", "onnxruntime"])
def test_a_build_leaves_the_embedder_embedding_as_before(exported, seed_catalog, tmp_path,
                                                         before):
    out, _ = exported
    embedder = Embedder()
    if before == "onnxruntime":
        embedder = embedder.for_export(load_index(out).query_model_path)
    build_index(seed_catalog, embedder, tmp_path / "idx", progress=False, export_onnx=True)
    assert embedder.backend == {"runtime": before, "precision": "fp32"}


def test_an_unknown_precision_is_refused_before_any_work(tmp_path, seed_catalog):
    with pytest.raises(ValueError, match="precision must be one of bf16, fp32"):
        build_index(seed_catalog, Embedder(), tmp_path / "idx", export_onnx=True,
                    precision="int4")
    assert not (tmp_path / "idx").exists()


def test_the_export_is_stored_beside_the_versions(exported):
    out, _ = exported
    idx = load_index(out)
    assert idx.manifest["query_model"] == "onnx/all-minilm-l6-v2.onnx"
    assert idx.query_model_path == out / "onnx" / "all-minilm-l6-v2.onnx"


@pytest.mark.parametrize("text", ["karate", "a boxer fights a Russian",
                                  "Ivan Drago og Apollo Creed", "bokser " * 400])
def test_onnx_vectors_equal_the_torch_vectors(exported, embedder, text):
    out, embedder_of_build = exported
    onnx = embedder_of_build.for_export(load_index(out).query_model_path)
    np.testing.assert_allclose(onnx.encode_query(text), embedder.encode([text])[0], atol=2e-5)


def test_onnx_and_torch_rank_every_labelled_query_the_same(exported, engine):
    out, embedder_of_build = exported
    onnx = embedder_of_build.for_export(load_index(out).query_model_path)
    fast = Engine(engine.index, onnx, engine.settings)  # the same films' vectors: torch's
    labels = load_labels(ROOT / "seeds" / "labels" / "seeds.json")
    for query in labels.queries:
        options = QueryOptions(k=8, mode="semantic")
        assert [r.film.id for r in fast.search(query.q, options).results] == \
            [r.film.id for r in engine.search(query.q, options).results], query.q


@pytest.mark.parametrize("backend, expected", [("onnx", True), ("torch", False)])
def test_the_server_uses_the_export_unless_told_not_to(exported, backend, expected):
    out, _ = exported
    live = LiveIndex(Settings(index=out, query_backend=backend, reload_poll_seconds=0),
                     Embedder())
    live.start()
    assert (live.engine().embedder.export is not None) is expected
    assert live.engine().search("poker", QueryOptions(k=1)).results[0].film.id == \
        "lucky-you-2007"


def test_exporting_leaves_the_torch_model_as_it_was(tmp_path, seed_catalog):
    """Tracing once changed the traced model: later torch queries in the building
    process came out different (found by scripts/bench_embed.py)."""
    texts = ["a heist in Spain 0", "zombie apocalypse survivors 1"]
    embedder = Embedder(query_cache_size=0)
    before = [embedder.encode_query(t) for t in texts], embedder.encode(texts)
    build_index(seed_catalog, embedder, tmp_path / "idx", progress=False, export_onnx=True)
    assert (tmp_path / "idx" / "onnx" / "all-minilm-l6-v2.onnx").is_file()  # it did trace
    # the embedder given to the build stays on torch: is it still the model it was?
    after = [embedder.encode_query(t) for t in texts], embedder.encode(texts)
    np.testing.assert_allclose(np.stack(after[0]), np.stack(before[0]), atol=1e-6)
    np.testing.assert_allclose(after[1], before[1], atol=1e-6)


TEXTS = ["Rocky Balboa, en bokser fra Philadelphia, får chancen for en titelkamp.",
         "A heist in Spain", "Æbleskiver, ødelagte år og én sidste chance", "",
         "x" * 3000, " ".join(["word"] * 600), "émigrés naïve café 1984 — U-Turn!"]


def test_the_fast_tokenizer_gives_the_model_tokenizers_ids(embedder):
    """The export is tokenized without transformers (no torch in the process): the same
    ids, masks and truncation at the model's 256 tokens as sentence-transformers'."""
    from recommender.embedding.encoder import fast_tokenizer_for

    fast, max_length = fast_tokenizer_for(embedder.location)
    model = embedder.encoder.model  # the session's: sentence-transformers on torch
    assert max_length == model.max_seq_length == 256
    mine = fast(TEXTS)
    theirs = model.tokenizer(TEXTS, return_tensors="np", truncation=True,
                             max_length=max_length, padding=True)
    assert mine["input_ids"].shape[1] == 256  # the long ones were cut
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        np.testing.assert_array_equal(mine[name], theirs[name])


def test_an_embedder_that_never_loads_torch_embeds_as_torch(exported, embedder):
    out, _ = exported
    light = Embedder(query_cache_size=0)
    assert light.for_export(load_index(out).query_model_path).dimension == 384
    light = light.for_export(load_index(out).query_model_path)
    vectors = light.encode(TEXTS)
    assert not light.loaded  # the torch model was never loaded by this embedder
    np.testing.assert_allclose(vectors, embedder.encode(TEXTS), atol=2e-5)
    assert light.dimension == 384 and not light.loaded
