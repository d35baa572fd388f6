"""Versions published to an object store and followed by servers (recommender/published.py),
with a `file://` store on this machine: what fsspec does for s3:// and gs:// alike."""

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from recommender.api import http_io
from recommender.api.app import create_app
from recommender.catalog.films import load_catalog
from recommender.config import Settings
from recommender.distribution.live import open_live
from recommender.distribution.published import Follower, publish
from recommender.errors import IndexUnavailable
from recommender.index.build import build_index
from recommender.index.store import MANIFEST, load_index
from tests.conftest import SEEDS
from tests.ops import call, running_server

CREED = {"id": "creed-2015", "title": "Creed", "year": 2015,
         "synopsis": "Adonis, søn af Apollo Creed, bliver trænet af Rocky Balboa."}


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder):
    out = tmp_path_factory.mktemp("published") / "built"
    build_index(load_catalog(SEEDS), embedder, out, progress=False, export_onnx=True)
    return out


@pytest.fixture
def source(tmp_path, embedder, built):
    """A local index (with its export: made once, copied) and a way to build its next
    version."""
    out = tmp_path / "built"
    shutil.copytree(built, out, symlinks=True)
    films = [json.loads(line) for line in SEEDS.read_text("utf-8").splitlines()]

    def next_version(extra: dict) -> Path:
        catalog = tmp_path / f"c-{extra['id']}.jsonl"
        catalog.write_text("".join(json.dumps(f, ensure_ascii=False) + "\n"
                                   for f in [*films, extra]), "utf-8")
        return build_index(load_catalog(catalog), embedder, out, progress=False,
                           export_onnx=True).path

    return out, next_version


def test_a_version_is_published_whole_with_current_last(tmp_path, source):
    out, _ = source
    store = tmp_path / "store"
    done = publish(out, f"file://{store}")
    assert (store / "current").read_text().strip() == f"versions/{done.version}"
    manifest = json.loads((store / "versions" / done.version / MANIFEST).read_text())
    local = json.loads((out / "current" / MANIFEST).read_text())
    assert manifest["files"] == local["files"] and "index.faiss" in manifest["files"]
    assert set(manifest["shared_files"]) == {"onnx/all-minilm-l6-v2.onnx"}
    for rel, meta in manifest["files"].items():
        assert (store / "versions" / done.version / rel).stat().st_size == meta["bytes"]


def test_the_store_keeps_the_newest_versions(tmp_path, source):
    out, next_version = source
    url = f"file://{tmp_path / 'store'}"
    first = publish(out, url, keep=2).version
    next_version({**CREED, "id": "a-1"})
    publish(out, url, keep=2)
    next_version({**CREED, "id": "b-2"})
    last = publish(out, url, keep=2)
    assert last.pruned == [first]
    assert len(list((tmp_path / "store" / "versions").iterdir())) == 2


def test_a_corrupted_local_version_is_never_published(tmp_path, source):
    out, _ = source
    faiss_file = out / "current" / "films.jsonl"
    faiss_file.write_text(faiss_file.read_text() + "\n")
    with pytest.raises(IndexUnavailable, match="differs from its manifest"):
        publish(out, f"file://{tmp_path / 'store'}")
    assert not (tmp_path / "store" / "current").exists()


def test_a_follower_downloads_checks_and_points_its_cache(tmp_path, source):
    out, next_version = source
    url = f"file://{tmp_path / 'store'}"
    first = publish(out, url).version
    follower = Follower(url, tmp_path / "cache")
    assert follower.sync() and not follower.sync()  # the second: nothing new
    assert load_index(tmp_path / "cache").version == first
    assert (tmp_path / "cache" / "onnx" / "all-minilm-l6-v2.onnx").is_file()
    next_version(CREED)
    second = publish(out, url).version
    assert follower.sync() and len(load_index(tmp_path / "cache")) == 9
    assert load_index(tmp_path / "cache").version == second


@pytest.mark.parametrize("damage", ["tamper", "remove"])
def test_a_version_that_fails_its_checks_is_refused(tmp_path, source, damage):
    out, next_version = source
    store = tmp_path / "store"
    url = f"file://{store}"
    first = publish(out, url).version
    follower = Follower(url, tmp_path / "cache")
    follower.sync()
    next_version(CREED)
    bad = publish(out, url).version
    target = store / "versions" / bad / "films.jsonl"
    if damage == "tamper":
        target.write_text(target.read_text().replace("Creed", "Greed"))
    else:
        target.unlink()
    with pytest.raises(IndexUnavailable, match=f"version {bad} .* refused: films.jsonl"):
        follower.sync()
    assert follower.refused == bad
    assert load_index(tmp_path / "cache").version == first  # the cache serves what it had
    assert not (tmp_path / "cache" / "versions" / bad).exists()


def test_a_served_follower_swaps_and_reports_a_refusal(tmp_path, source, embedder):
    out, next_version = source
    store = tmp_path / "store"
    url = f"file://{store}"
    publish(out, url)
    config = Settings(index_url=url, cache_dir=tmp_path / "cache",
                      reload_poll_seconds=0.1, reload_jitter_seconds=0)
    app = create_app(config, live=open_live(config, embedder))
    client = app.test_client()
    live = http_io.services(app).live
    try:
        assert client.get("/ready").get_json()["films"] == 8
        next_version(CREED)
        publish(out, url)
        deadline = time.monotonic() + 20
        while client.get("/films/creed-2015").status_code != 200 and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.get("/films/creed-2015").status_code == 200
        next_version({**CREED, "id": "creed-ii-2018", "title": "Creed II"})
        bad = publish(out, url).version
        (store / "versions" / bad / "index.faiss").write_bytes(b"not an index")
        while "refused" not in client.get("/ready").get_json() and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        ready = client.get("/ready").get_json()
        assert ready["films"] == 9 and bad in ready["refused"]
        metrics = client.get("/metrics").get_data(as_text=True)
        assert 'recommender_index_reloads_total{outcome="refused"} 1.0' in metrics
    finally:
        live.stop()


@pytest.mark.server
def test_a_fleet_follows_one_store_under_load(tmp_path, source):
    """Two servers on two ports follow one store; a new version published under load:
    both switch within the poll interval, no request fails, both end on one version."""
    out, next_version = source
    url = f"file://{tmp_path / 'store'}"
    publish(out, url)
    env = {"RECOMMENDER_RELOAD_POLL_SECONDS": "0.5", "RECOMMENDER_RELOAD_JITTER_SECONDS": "0.5"}
    with running_server(url, workers=2, env={**env, "RECOMMENDER_CACHE_DIR":
                                                 str(tmp_path / "cache-a")}) as (a, _), \
            running_server(url, workers=2, env={**env, "RECOMMENDER_CACHE_DIR":
                                                    str(tmp_path / "cache-b")}) as (b, _):
        failures, answered = [], 0
        lock = threading.Lock()
        stop = time.monotonic() + 60

        def load(base: str) -> None:
            nonlocal answered
            for i in range(400):  # bounded in count and in time
                if time.monotonic() > stop:
                    return
                path = "/search?q=boxer&k=3" if i % 2 else "/similar?title=Rocky&k=3"
                try:
                    status, _ = call(base + path, timeout=30)
                except OSError as exc:
                    status = f"lost: {exc}"
                with lock:
                    answered += 1
                    if status != 200:
                        failures.append((base, path, status))

        clients = [threading.Thread(target=load, args=(base,)) for base in (a, b, a, b)]
        for c in clients:
            c.start()
        time.sleep(1.0)
        next_version(CREED)
        published_at = time.monotonic()
        new = publish(out, url).version
        switched = {}
        while len(switched) < 2 and time.monotonic() - published_at < 20:
            for base in (a, b):
                if base not in switched and all(
                        call(base + "/films/creed-2015")[0] == 200 for _ in range(6)):
                    switched[base] = round(time.monotonic() - published_at, 2)
            time.sleep(0.1)
        for c in clients:
            c.join(timeout=120)
        versions = {call(base + "/health")[1]["index"]["version"] for base in (a, b)
                    for _ in range(6)}
    print(f"\nfleet: {answered} requests, {len(failures)} failed, switched after {switched}")
    assert failures == [] and answered >= 200
    assert set(switched) == {a, b} and max(switched.values()) < 5  # poll 0.5 + jitter + load
    assert versions == {new}
