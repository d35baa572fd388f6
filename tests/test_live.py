"""Hot index swaps: reload, refusal of a bad version, fall-back at start, the watcher."""

import json
import os
import time

import pytest

from recommender.api import http_io
from recommender.api.app import create_app
from recommender.catalog.films import load_catalog
from recommender.config import Settings
from recommender.distribution.live import LiveIndex, open_live
from recommender.errors import IndexUnavailable
from recommender.index.build import build_index
from recommender.index.store import CURRENT, MANIFEST
from tests.conftest import SEEDS


@pytest.fixture
def two_versions(tmp_path, embedder, write_catalog):
    """An index folder whose current version is the seeds; a second catalog to build."""
    out = tmp_path / "idx"
    build_index(load_catalog(SEEDS), embedder, out, progress=False)
    films = [json.loads(line) for line in SEEDS.read_text("utf-8").splitlines()]
    bigger = write_catalog([*films, {"id": "creed-2015", "title": "Creed", "year": 2015,
                                     "synopsis": "Apollo Creeds søn Adonis bliver trænet af "
                                     "Rocky Balboa."}])
    return out, load_catalog(bigger)


def _point(out, folder):
    link = out / ".tmp-link"
    os.symlink(os.path.relpath(folder, out), link)
    os.replace(link, out / CURRENT)


def test_reload_swaps_and_in_flight_requests_finish_on_the_old_index(two_versions, embedder):
    out, bigger = two_versions
    live = LiveIndex(Settings(index=out, reload_poll_seconds=0), embedder)
    live.start()
    in_flight = live.engine()
    assert live.reload().changed is False  # nothing moved
    build_index(bigger, embedder, out, progress=False)
    result = live.reload()
    assert result.changed and result.previous == in_flight.index.version
    assert len(live.engine().index) == 9
    # the request that took the old engine still answers from it, unchanged
    assert len(in_flight.index) == 8
    assert in_flight.similar("rocky-1976").results


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


def test_start_falls_back_to_the_newest_version_that_loads(two_versions, embedder):
    out, bigger = two_versions
    good = build_index(bigger, embedder, out, progress=False).path
    broken = out / "versions" / "99990101T000000.000000Z-broken"
    broken.mkdir()
    (broken / MANIFEST).write_text("{not json")
    _point(out, broken)
    live = LiveIndex(Settings(index=out, reload_poll_seconds=0), embedder)
    live.start()
    assert live.engine().index.path.resolve() == good.resolve()


def test_nothing_loadable_starts_unavailable(tmp_path, embedder):
    live = LiveIndex(Settings(index=tmp_path / "none"), embedder)
    live.start()
    with pytest.raises(IndexUnavailable, match="No index"):
        live.engine()


def test_ready(client, tmp_path, embedder):
    body = client.get("/ready").get_json()
    assert body["status"] == "ready" and body["films"] == 8
    config = Settings(index=tmp_path / "none", reload_poll_seconds=0)
    app = create_app(config, live=open_live(config, embedder, load_model=False))
    assert app.test_client().get("/ready").status_code == 503


def _films_within(live: LiveIndex, films: int, seconds: float) -> int:
    """The serving version's film count once it is ``films``, or when ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while len(live.engine().index) != films and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(live.engine().index)


def test_watcher_follows_the_current_pointer(two_versions, embedder):
    out, bigger = two_versions
    live = LiveIndex(Settings(index=out), embedder)
    live.start()
    live.watch(0.1)
    try:
        build_index(bigger, embedder, out, progress=False)
        assert _films_within(live, 9, seconds=10) == 9
    finally:
        live.stop()


def test_a_move_between_loading_and_watching_is_not_missed(two_versions, embedder):
    """A worker loads version 1; before its watcher starts, another process (a worker
    sharing a store's cache) moves `current` to version 2: the watcher must still swap."""
    out, bigger = two_versions
    live = LiveIndex(Settings(index=out, reload_jitter_seconds=0), embedder)
    live.start()
    assert len(live.engine().index) == 8
    build_index(bigger, embedder, out, progress=False)  # current moves: nobody watching yet
    live.watch(0.1)
    try:
        assert _films_within(live, 9, seconds=10) == 9
    finally:
        live.stop()


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


def test_a_refused_reload_is_retried_until_it_passes(two_versions, embedder):
    out, bigger = two_versions
    live = LiveIndex(Settings(index=out, reload_jitter_seconds=0), embedder)
    live.start()
    live.watch(0.1)
    try:
        bad = build_index(bigger, embedder, out, progress=False).path
        manifest_file = bad / MANIFEST
        good_manifest = manifest_file.read_text()
        manifest_file.write_text(json.dumps({**json.loads(good_manifest), "film_count": 99}))
        deadline = time.monotonic() + 10
        while live.reload_error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live.reload_error is not None and len(live.engine().index) == 8
        # mended in place: the pointer doesn't move, the watcher tries again by itself
        manifest_file.write_text(good_manifest)
        while len(live.engine().index) != 9 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(live.engine().index) == 9 and live.reload_error is None
    finally:
        live.stop()
