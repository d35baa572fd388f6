import gc
import json
import shutil

import numpy as np
import pytest

from recommender.catalog.films import load_catalog
from recommender.embedding.embedder import Embedder
from recommender.errors import IndexMismatch, IndexUnavailable
from recommender.index import store as store_module
from recommender.index.build import build_index, previous_vectors
from recommender.index.store import CURRENT, MANIFEST, load_index, prune_versions


def test_built_index_round_trips(seed_index_dir, seed_catalog, embedder):
    idx = load_index(seed_index_dir, expected_model=embedder.name,
                     expected_dimension=embedder.dimension)
    assert [f.id for f in idx.films] == [f.id for f in seed_catalog.films]
    assert idx.films[0] == seed_catalog.films[0]
    m = idx.manifest
    assert m["format_version"] == 2
    assert m["embedded_fields"] == ["synopsis"]
    assert m["lexical"]["language"] == "da" and m["lexical"]["stemmer"] == "danish"
    assert m["lexical"]["documents"] == 8
    assert m["model"] == "all-MiniLM-L6-v2"
    assert m["dimension"] == 384 == idx.dimension
    assert m["film_count"] == 8
    assert m["catalog"]["sha256"] == seed_catalog.sha256
    assert {"faiss", "numpy", "torch", "sentence_transformers", "python"} <= set(m["libraries"])
    assert m["built_at"].endswith("+00:00")
    norms = np.linalg.norm([idx.vector(i) for i in range(len(idx))], axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_stored_vectors_are_the_models_vectors(engine):
    """Compared like with like: the films embedded again through the runtime and the
    precision the build recorded in its manifest (bf16 where the CPU has AVX-512 BF16,
    fp32 elsewhere), as one batch, as the build embedded them. Against torch's fp32
    vectors a bf16 build differs by up to ~1e-3 (tests/integration/test_onnx.py bounds that)."""
    index = engine.index
    backend = index.manifest["embeddings"]
    again = Embedder(query_cache_size=0).for_export(index.query_model_path, backend["runtime"],
                                                    backend["precision"])
    assert again.backend == {k: backend[k] for k in ("runtime", "precision")}
    vectors = again.encode([film.synopsis for film in index.films])
    np.testing.assert_allclose(index.faiss_index.reconstruct_n(0, len(index)), vectors,
                               atol=1e-5)


def test_search_matches_brute_force_with_and_without_a_filter(engine):
    idx = engine.index
    vectors = np.stack([idx.vector(i) for i in range(len(idx))])
    rng = np.random.default_rng(7)
    for _ in range(5):
        q = rng.normal(size=idx.dimension).astype(np.float32)
        q /= np.linalg.norm(q)
        brute = np.argsort(-(vectors @ q))
        assert [r for r, _ in idx.search(q, 8)] == list(brute)
        mask = rng.random(len(idx)) < 0.5
        mask[0] = True
        got = idx.search(q, 8, allowed=mask)
        assert [r for r, _ in got] == [r for r in brute if mask[r]]
        np.testing.assert_allclose([s for _, s in got], (vectors @ q)[[r for r, _ in got]],
                                   atol=1e-5)
    assert idx.search(q, 3, allowed=np.zeros(len(idx), bool)) == []


def test_version_folders_current_pointer_and_pruning(tmp_path, seed_catalog, embedder):
    out = tmp_path / "idx"
    paths = [build_index(seed_catalog, embedder, out, progress=False, keep_versions=2).path
             for _ in range(3)]
    assert (out / CURRENT).resolve() == paths[-1].resolve()
    remaining = sorted(p.name for p in (out / "versions").iterdir())
    assert remaining == sorted(p.name for p in paths[1:])
    assert prune_versions(out, keep=1) == [paths[1]]
    assert load_index(out).path == paths[-1].resolve()
    assert load_index(paths[-1]).path == paths[-1]  # a version folder loads directly


class _FailingEmbedder:
    """The real model, which raises after its first batch: a build interrupted mid-way."""

    def __init__(self, real: Embedder) -> None:
        self.real = real
        self.name = real.name

    def load(self):
        return self

    def encode(self, texts, progress=False):
        self.real.encode(texts[:2])
        raise KeyboardInterrupt


def test_interrupted_build_leaves_the_previous_index(tmp_path, seed_catalog, embedder,
                                                     monkeypatch):
    out = tmp_path / "idx"
    first = build_index(seed_catalog, embedder, out, progress=False).path
    with pytest.raises(KeyboardInterrupt):
        build_index(seed_catalog, _FailingEmbedder(embedder), out, progress=False, reuse=False)
    assert load_index(out).path == first.resolve()
    assert gc.isenabled()  # paused during the build only

    # A failure while writing the files: the temporary folder is removed.
    real_write = store_module.write_file

    def failing_write(path, data):
        if path.name == MANIFEST:
            raise OSError("disk full")
        real_write(path, data)

    monkeypatch.setattr(store_module, "write_file", failing_write)
    with pytest.raises(OSError, match="disk full"):
        build_index(seed_catalog, embedder, out, progress=False)
    assert load_index(out).path == first.resolve()
    assert [p.name for p in (out / "versions").iterdir()] == [first.name]


def _copy_with_manifest(src, dst, **changes):
    shutil.copytree(src, dst)
    manifest = json.loads((dst / MANIFEST).read_text())
    manifest.update(changes)
    (dst / MANIFEST).write_text(json.dumps(manifest))
    return dst


@pytest.mark.parametrize("changes, kwargs, message", [
    ({"model": "intfloat/multilingual-e5-small"}, {"expected_model": "all-MiniLM-L6-v2"},
     "built with model 'intfloat/multilingual-e5-small'"),
    ({"dimension": 768}, {"expected_dimension": 384}, "768-dimensional"),
    ({"format_version": 99}, {}, "format version 99"),
    ({"film_count": 9}, {}, "inconsistent"),
])
def test_mismatched_manifest_is_refused(tmp_path, seed_index_dir, changes, kwargs, message):
    src = load_index(seed_index_dir).path
    bad = _copy_with_manifest(src, tmp_path / "bad", **changes)
    with pytest.raises(IndexMismatch, match=message):
        load_index(bad, **kwargs)


def test_missing_index_is_unavailable_with_the_fix(tmp_path):
    with pytest.raises(IndexUnavailable, match="recommender build --out"):
        load_index(tmp_path / "nothing")


class _CountingEmbedder:
    """The real model, counting the texts it is asked to embed."""

    def __init__(self, real: Embedder) -> None:
        self.real, self.name, self.texts = real, real.name, []

    def load(self):
        return self

    def encode(self, texts, progress=False):
        self.texts += list(texts)
        return self.real.encode(texts)


def test_rebuild_embeds_only_what_changed(tmp_path, seed_catalog, embedder, write_catalog):
    out = tmp_path / "idx"
    first = build_index(seed_catalog, embedder, out, progress=False)
    assert (first.embedded, first.reused) == (8, 0)
    films = [f.to_dict() for f in seed_catalog.films]
    films[2]["synopsis"] += " Han vinder turneringen."  # one changed
    del films[7]  # one removed
    films.append({"id": "creed-2015", "title": "Creed", "year": 2015,  # one added
                  "synopsis": "Adonis Creed bliver trænet af Rocky Balboa."})
    films[0]["title"] = "Rocky (director's cut)"  # not embedded: no new vector
    counting = _CountingEmbedder(embedder)
    report = build_index(load_catalog(write_catalog(films)), counting, out, progress=False)
    assert sorted(counting.texts) == sorted([films[2]["synopsis"], films[-1]["synopsis"]])
    assert (report.embedded, report.reused) == (2, 6)
    new, old = load_index(out), load_index(first.path)
    assert new.manifest["embeddings"] == {"reused": 6, "embedded": 2,
                                          "from_version": old.version}
    np.testing.assert_array_equal(new.vector(new.row_of["rocky-iv-1985"]),
                                  old.vector(old.row_of["rocky-iv-1985"]))
    np.testing.assert_allclose(new.vector(new.row_of["the-karate-kid-1984"]),
                               embedder.encode([films[2]["synopsis"]])[0], atol=1e-5)
    # removing films costs no embedding, and the model isn't even loaded
    counting.texts.clear()
    report = build_index(load_catalog(write_catalog(films[:5])), counting, out, progress=False)
    assert counting.texts == [] and (report.embedded, report.reused) == (0, 5)
    assert len(load_index(out)) == 5
    # another model's vectors are never reused
    assert previous_vectors(out, "another-model", ("synopsis",)) == ({}, None)
