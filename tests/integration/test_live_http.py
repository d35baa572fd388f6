"""Hot swaps seen through the app: refusals, /admin/reload, /ready, and the query
encoder of a refused version."""

import json

from recommender.api import http_io
from recommender.api.app import create_app
from recommender.catalog.films import load_catalog
from recommender.config import Settings
from recommender.distribution.live import open_live
from recommender.index.build import build_index
from recommender.index.store import MANIFEST
from tests.conftest import SEEDS


def test_a_version_that_fails_validation_is_refused(two_versions, embedder):
    out, bigger = two_versions
    config = Settings(index=out, reload_poll_seconds=0)
    app = create_app(config, live=open_live(config, embedder))
    client = app.test_client()
    before = client.get("/health").get_json()["index"]["version"]
    bad = build_index(bigger, embedder, out, progress=False).path
    manifest = json.loads((bad / MANIFEST).read_text())
    manifest["film_count"] = 99
    (bad / MANIFEST).write_text(json.dumps(manifest))
    r = client.post("/admin/reload")
    assert r.status_code == 503
    error = r.get_json()["error"]
    assert error["code"] == "index_unavailable" and error["serving"] == before
    assert "Reload refused" in error["message"] and "inconsistent" in error["message"]
    assert client.get("/health").get_json()["index"]["version"] == before
    assert client.get("/similar?title=Rocky").status_code == 200


def test_admin_reload_over_http(two_versions, embedder):
    out, bigger = two_versions
    config = Settings(index=out, reload_poll_seconds=0)
    client = create_app(config, live=open_live(config, embedder)).test_client()
    assert client.post("/admin/reload").get_json()["reloaded"] is False
    new = build_index(bigger, embedder, out, progress=False).path
    body = client.post("/admin/reload").get_json()
    assert body == {"reloaded": True, "version": new.name, "previous": body["previous"]}
    assert client.get("/films/creed-2015").status_code == 200
    metrics = client.get("/metrics").get_data(as_text=True)
    assert f'version="{new.name}"}} 1.0' in metrics
    assert f'version="{body["previous"]}"}} 0.0' in metrics
    assert 'recommender_index_reloads_total{outcome="swapped"} 1.0' in metrics
    assert client.get("/admin/reload").status_code == 405


def test_ready(client, tmp_path, embedder):
    body = client.get("/ready").get_json()
    assert body["status"] == "ready" and body["films"] == 8
    config = Settings(index=tmp_path / "none", reload_poll_seconds=0)
    app = create_app(config, live=open_live(config, embedder, load_model=False))
    assert app.test_client().get("/ready").status_code == 503


def test_a_refused_version_leaves_the_query_encoder_and_its_cache_alone(tmp_path, embedder):
    """The old bug: loading a version switched the shared embedder to its export (and
    emptied the query cache) before the version was checked. Now each version's engine
    holds its own query embedder, and a refused one touches none that serves."""
    from recommender.embedding.embedder import Embedder

    builder = embedder
    out = tmp_path / "idx"
    build_index(load_catalog(SEEDS), builder, out, progress=False, export_onnx=True)
    config = Settings(index=out, reload_poll_seconds=0)
    app = create_app(config, live=open_live(config, Embedder()))
    client = app.test_client()
    embedder = http_io.services(app).live.engine().embedder
    serving = embedder.export
    assert serving is not None and serving.path.name.endswith(".onnx")
    assert embedder.backend == {"runtime": "onnxruntime", "precision": "fp32"}
    assert client.get("/search?q=a boxer trains in the snow&k=1").status_code == 200
    cached = dict(embedder._cache)
    assert cached

    bad = build_index(load_catalog(SEEDS), builder, out, progress=False, reuse=False,
                      export_onnx=True).path
    (out / "onnx" / "broken.onnx").write_bytes(b"not an onnx model")
    manifest = json.loads((bad / MANIFEST).read_text())
    manifest["query_model"] = "onnx/broken.onnx"
    (bad / MANIFEST).write_text(json.dumps(manifest))
    r = client.post("/admin/reload")
    assert r.status_code == 503 and "broken.onnx" in r.get_json()["error"]["message"]
    assert http_io.services(app).live.engine().embedder is embedder
    assert embedder.export == serving
    assert dict(embedder._cache).keys() == cached.keys()
    hits = embedder.cache_hits
    assert client.get("/search?q=a boxer trains in the snow&k=1").status_code == 200
    assert embedder.cache_hits == hits + 1  # still cached
    status = client.get("/admin/status").get_json()
    assert "broken.onnx" in status["last_reload_error"]
