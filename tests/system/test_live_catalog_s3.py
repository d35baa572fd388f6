"""Versions in a real S3 API (moto's server, over HTTP, through s3fs) and the live catalog
in one database: a version published to ``s3://``, two replicas following it, a change
made on one seen by the other, the next build folding it in and both taking that version,
and a tampered object refused while the catalog's changes go on."""

from __future__ import annotations

import os
import time

import pytest

from recommender.distribution.published import publish
from recommender.index.store import resolve_version_dir
from tests.conftest import CREED
from tests.ops import call, free_port, running_server

moto_server = pytest.importorskip("moto.server", reason="moto[server] is a dev dependency")
pytest.importorskip("s3fs", reason="s3fs is a dev dependency")
MARS = {"title": "Rumbokseren", "year": 2026,
        "synopsis": "En ung bokser fra Mars træner til solsystemets mesterskab."}


@pytest.fixture
def s3(monkeypatch):
    """A real S3 API on loopback, and the variables that point boto (s3fs) at it."""
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem()
    fs.mkdir("films")
    yield fs, env
    server.stop()


def _until(check, seconds: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, what
        time.sleep(0.1)
    return time.monotonic() - started


def test_replicas_following_s3_share_the_live_catalog(tmp_path, source, s3):
    fs, aws = s3
    out, next_version = source
    url = "s3://films/catalog"
    first = publish(out, url).version
    assert fs.cat("films/catalog/current").decode().strip() == f"versions/{first}"
    events = f"sqlite:///{tmp_path / 'events.sqlite3'}"
    env = {**aws, "RECOMMENDER_EVENTS_URL": events, "RECOMMENDER_RELOAD_POLL_SECONDS": "0.5"}
    with running_server(url, workers=2, env={**env, "RECOMMENDER_CACHE_DIR":
                                                 str(tmp_path / "cache-a")}) as (a, _), \
            running_server(url, workers=2, env={**env, "RECOMMENDER_CACHE_DIR":
                                                    str(tmp_path / "cache-b")}) as (b, _):
        for base in (a, b):
            assert call(f"{base}/health")[1]["index"]["version"] == first
        assert call(f"{a}/films/rumbokseren-2026", "PUT", MARS)[0] == 201
        seen = _until(lambda: all(call(f"{b}/films/rumbokseren-2026")[0] == 200
                                  for _ in range(6)), 2.0, "replica b never saw the film")
        assert seen < 2.0
        # the publishing machine builds with the changes folded in, and publishes
        os.environ.update({"RECOMMENDER_EVENTS_URL": events})
        try:
            from recommender.cli.main import main

            assert main(["build", "--out", str(out), "--quiet"]) == 0
        finally:
            os.environ.pop("RECOMMENDER_EVENTS_URL")
        second = publish(out, url).version
        for base in (a, b):
            _until(lambda base=base: all(call(f"{base}/health")[1]["index"]["version"]
                                         == second for _ in range(6)), 20, "not followed")
        time.sleep(1.5)  # each worker's own swap
        for base in (a, b):
            catalog = call(f"{base}/ready")[1]["catalog"]
            assert (catalog["changes"], catalog["version_through"]) == (0, 1)
            assert call(f"{base}/films/rumbokseren-2026")[0] == 200
        # a version whose object was changed in the store after its manifest was written
        bad_folder = resolve_version_dir(next_version(CREED))
        bad = bad_folder.name
        fs.put(str(bad_folder), f"films/catalog/versions/{bad}", recursive=True)
        films = fs.cat(f"films/catalog/versions/{bad}/films.jsonl")
        fs.pipe(f"films/catalog/versions/{bad}/films.jsonl", films.replace(b"Creed", b"Greed"))
        fs.pipe("films/catalog/current", f"versions/{bad}\n".encode())
        for base in (a, b):
            _until(lambda base=base: bad in (call(f"{base}/ready")[1].get("refused") or ""),
                   20, "the tampered version was not refused")
            assert call(f"{base}/health")[1]["index"]["version"] == second
            assert call(f"{base}/films/creed-2015")[0] == 404
        assert call(f"{b}/films/rocky-1976", "DELETE")[0] == 200  # changes go on meanwhile
        _until(lambda: all(call(f"{a}/films/rocky-1976")[0] == 404 for _ in range(6)), 2.0,
               "replica a never withdrew the film")
