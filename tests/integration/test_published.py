"""Versions published to an object store and followed by servers (recommender/published.py),
with a `file://` store on this machine: what fsspec does for s3:// and gs:// alike."""

import json

import pytest

from recommender.distribution.published import Follower, publish
from recommender.errors import IndexUnavailable
from recommender.index.store import MANIFEST, load_index
from tests.conftest import CREED


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
