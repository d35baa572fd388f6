"""The collaborative model (recommender/collaborative.py, blend.py): trained from a real
event store, written as a checked version, mapped and hot-swapped by a real server, and
what it changes in a viewer's answers."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from recommender.api.app import create_app
from recommender.api.services import viewers
from recommender.distribution.live import LiveIndex
from recommender.errors import IndexMismatch
from recommender.storage import Event, open_store
from recommender.viewers import collaborative
from tests.conftest import ROOT
from tests.ops import call, running_server

SPORTS = ["rocky-1976", "chariots-of-fire-1981", "the-karate-kid-1984"]


def _viewers(n: int = 60) -> list[Event]:
    """A log with a pattern content can't see: viewers who watch Lucky You (poker) all go
    on to Rocky IV, and none of them to the other Rockys."""
    events, ts = [], 1_700_000_000.0
    for i in range(n):
        user = f"v{i}"
        films = ["lucky-you-2007", "rocky-iv-1985"] if i % 2 == 0 else \
            ["rocky-1976", "rocky-ii-1979", "rocky-iii-1982"]
        for film in films:
            ts += 60
            events.append(Event(user, film, "like", ts=ts, event_id=f"{user}-{film}"))
    return events


def train_a_seed_copy(tmp_path, seed_index_dir):
    """A copy of the seed index with a store of the log above and a model trained on it
    by `recommender train` (a process of its own): (index folder, events URL)."""
    import shutil

    index = tmp_path / "seeds"
    shutil.copytree(seed_index_dir, index, symlinks=True)
    url = f"sqlite:///{tmp_path / 'events.sqlite3'}"
    store = open_store(url)
    store.add(_viewers())
    store.close()
    done = subprocess.run([sys.executable, "-m", "recommender.cli", "train", "--index",
                           str(index), "--events-url", url, "--min-events", "50"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "trained" in done.stdout and "150 events of 60 viewers" in done.stdout
    assert "ranking: not tuned:" in done.stdout  # 60 viewers: too few to backtest on
    return index, url


@pytest.fixture
def trained(tmp_path, seed_index_dir):
    return train_a_seed_copy(tmp_path, seed_index_dir)


def test_train_writes_a_checked_version_beside_the_index(trained):
    index, _ = trained
    folder = collaborative.current_path(index)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["algorithm"] == "ease" and manifest["events"] == 150
    assert manifest["parameters"] == {"lambda": 100.0, "max_films": 20000, "half_life_days": 0.0}
    assert set(manifest["files"]) == {"weights.npy", "next.npy", "films.json", "popularity.npy"}
    model = collaborative.load(folder)
    assert isinstance(model.weights, np.memmap)  # mapped, shared by the workers
    assert model.also_liked("lucky-you-2007", 1)[0][0] == "rocky-iv-1985"
    # a changed file is refused, as an index version is
    weights = folder / "weights.npy"
    data = bytearray(weights.read_bytes())
    data[-4:] = b"\x00\x00\xc0\x7f"  # the last weight NaN, same size
    weights.write_bytes(bytes(data))
    with pytest.raises(IndexMismatch, match="differs from its manifest"):
        collaborative.load(folder)


def test_too_few_events_write_no_model_and_say_so(tmp_path, seed_index_dir):
    import shutil

    index = tmp_path / "seeds"
    shutil.copytree(seed_index_dir, index, symlinks=True)
    url = f"sqlite:///{tmp_path / 'few.sqlite3'}"
    store = open_store(url)
    store.add(_viewers(3))
    store.close()
    done = subprocess.run([sys.executable, "-m", "recommender.cli", "train", "--index",
                           str(index), "--events-url", url], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "no model written: 7 events; a model needs at least 100" in done.stderr
    assert collaborative.current_path(index) is None


def test_the_model_changes_what_a_viewer_is_recommended(trained, settings, engine):
    """A viewer who liked Lucky You: content alone offers another poker-ish or random film;
    with the model, Rocky IV first, because viewers who liked Lucky You also liked it."""
    index, url = trained
    config = dataclasses.replace(settings, index=index, events_url=url)
    app = create_app(config, live=LiveIndex.serving(engine, config))
    client = app.test_client()
    assert client.post("/events", json={"user": "new", "film": "Lucky You",
                                        "type": "like"}).status_code == 200
    body = client.get("/users/new/recommendations?k=3").get_json()
    assert body["query"]["basis"] == "history and every viewer's"
    first = body["results"][0]
    assert first["id"] == "rocky-iv-1985"
    assert first["reasons"] == [{"because": "viewers_also_liked", "film": {
        "id": "lucky-you-2007", "title": "Lucky You", "year": 2007}}]
    assert "lucky-you-2007" not in [r["id"] for r in body["results"]]  # seen: left out
    also = client.get("/films/lucky-you-2007/also-liked?k=2").get_json()
    assert also["results"][0]["id"] == "rocky-iv-1985"
    assert client.get("/films/no-such/also-liked").status_code == 404
    ready = client.get("/ready").get_json()
    assert ready["collaborative"]["events"] == 150
    assert ready["collaborative"]["algorithm"] == "ease"
    personal = viewers(app).personal
    assert personal is not None
    personal.store.close()


def test_without_a_model_answers_are_as_before(client):
    also = client.get("/films/rocky-1976/also-liked").get_json()
    assert also["results"] == [] and also["query"]["basis"] == "no collaborative model yet"
    assert client.get("/ready").get_json()["collaborative"] is None


@pytest.mark.server
def test_a_running_server_takes_a_new_model_within_its_poll(trained):
    """Trained again while serving: every worker maps the new version within the reload
    poll, no restart, and the metrics say which."""
    index, url = trained
    env = {"RECOMMENDER_EVENTS_URL": url, "RECOMMENDER_RELOAD_POLL_SECONDS": "0.5"}
    with running_server(index, workers=2, env=env) as (base, _):
        before = call(base + "/ready")[1]["collaborative"]["version"]
        store = open_store(url)
        store.add([Event(f"w{i}", f, "like", ts=1_800_000_000.0 + i, event_id=f"w{i}-{f}")
                   for i in range(40) for f in SPORTS])
        store.close()
        subprocess.run([sys.executable, "-m", "recommender.cli", "train", "--index",
                        str(index), "--events-url", url], cwd=ROOT, check=True,
                       capture_output=True, timeout=300)
        deadline = time.monotonic() + 90
        versions, also = set(), []
        while time.monotonic() < deadline:
            # which worker answers is the kernel's choice: ask often enough to meet both
            versions = {call(base + "/ready")[1]["collaborative"]["version"]
                        for _ in range(8)}
            also = [call(base + "/films/chariots-of-fire-1981/also-liked?k=2")
                    for _ in range(8)]
            if before not in versions and all(body["results"] for _, body in also):
                break
            time.sleep(0.3)
        assert before not in versions and len(versions) == 1
        assert call(base + "/ready")[1]["collaborative"]["events"] == 150 + 120
        for status, body in also:  # the new model's: chariots is new to the log
            assert status == 200 and {r["id"] for r in body["results"]} == \
                {"rocky-1976", "the-karate-kid-1984"}
        with __import__("urllib.request").request.urlopen(base + "/metrics") as r:
            assert "recommender_model_films" in r.read().decode()


@pytest.mark.server
def test_a_fleet_follows_the_model_through_the_store(trained, tmp_path):
    """publish carries the model with the index; a server on --index URL maps it, and a
    model trained again and published is taken by every worker within the poll."""
    from recommender.distribution.published import publish

    index, url = trained
    store = f"file://{tmp_path / 'store'}"
    first = publish(index, store).model
    assert first is not None
    env = {"RECOMMENDER_EVENTS_URL": url, "RECOMMENDER_RELOAD_POLL_SECONDS": "0.5",
           "RECOMMENDER_CACHE_DIR": str(tmp_path / "cache")}
    with running_server(store, workers=2, env=env) as (base, _):
        assert call(base + "/ready")[1]["collaborative"]["version"] == first
        store_db = open_store(url)
        store_db.add([Event(f"w{i}", "rocky-v-1990", "like", ts=1_800_000_000.0 + i)
                      for i in range(30)])
        store_db.close()
        subprocess.run([sys.executable, "-m", "recommender.cli", "train", "--index",
                        str(index), "--events-url", url], cwd=ROOT, check=True,
                       capture_output=True, timeout=300)
        second = publish(index, store).model
        assert second != first
        deadline = time.monotonic() + 90
        seen = set()
        while time.monotonic() < deadline:
            seen = {call(base + "/ready")[1]["collaborative"]["version"] for _ in range(8)}
            if seen == {second}:
                break
            time.sleep(0.3)
        assert seen == {second}  # every worker


@pytest.mark.server
def test_a_server_retrains_on_its_schedule(tmp_path, seed_index_dir):
    """RECOMMENDER_TRAIN_EVERY_SECONDS: events sent over HTTP become a model without
    anyone running recommender train; one worker trains, every worker maps it."""
    import shutil

    index = tmp_path / "seeds"
    shutil.copytree(seed_index_dir, index, symlinks=True)
    url = f"sqlite:///{tmp_path / 'events.sqlite3'}"
    env = {"RECOMMENDER_EVENTS_URL": url, "RECOMMENDER_RELOAD_POLL_SECONDS": "0.5",
           "RECOMMENDER_TRAIN_EVERY_SECONDS": "2"}
    with running_server(index, workers=2, env=env) as (base, _):
        assert call(base + "/ready")[1]["collaborative"] is None
        events = [{"user": e.user, "film": {"id": e.film_id}, "type": e.type,
                   "event_id": e.event_id} for e in _viewers()]
        assert call(base + "/events", "POST", {"events": events})[1]["accepted"] == 150
        deadline = time.monotonic() + 30
        models = set()
        while time.monotonic() < deadline:
            models = {(call(base + "/ready")[1]["collaborative"] or {}).get("version")
                      for _ in range(6)}
            if None not in models:
                break
            time.sleep(0.5)
        assert None not in models  # every worker maps one (it retrains every 2 s)
    assert len([p for p in (index / "models" / "versions").iterdir()
                if not p.name.startswith(".")]) <= 3
