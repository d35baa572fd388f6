"""Viewers on real servers: an acknowledged event survives a SIGKILL, two servers
share a PostgreSQL, the longest batch fits the body limit."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROCKY_IDS, ROOT
from tests.ops import call, free_port, stored_event_ids


@pytest.mark.server
def test_an_acknowledged_event_survives_a_sigkill_of_the_whole_server(seed_index_dir,
                                                                      events_url):
    """A 2xx means committed: the server (master and workers) is killed with SIGKILL the
    moment the answers arrive, and every acknowledged event is in the database (a SQLite
    file, a PostgreSQL server)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "recommender.cli", "serve", "--index", str(seed_index_dir),
         "--port", str(port), "--workers", "2"], cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "RECOMMENDER_LOG_LEVEL": "warning",
             "RECOMMENDER_EVENTS_URL": events_url})
    base = f"http://127.0.0.1:{port}"
    acknowledged = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if call(base + "/ready", timeout=5)[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        for n in range(40):
            status, body = call(base + "/events", "POST", {"events": [
                {"user": f"k{n % 4}", "film": "Rocky", "type": "view", "value": 0.5,
                 "event_id": f"kill-{n}-{i}"} for i in range(5)]})
            assert status == 200 and body["accepted"] == 5
            acknowledged += 5
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no shutdown, no flush: the kernel stops it
        proc.wait(timeout=30)
    ids = stored_event_ids(events_url)
    assert acknowledged == 200 and {f"kill-{n}-{i}" for n in range(40) for i in range(5)} <= ids


@pytest.mark.server
def test_two_servers_on_one_postgresql_share_their_viewers(seed_index_dir, postgres):
    """Replicas: an event sent to one server changes what the other recommends."""
    from tests import pg
    from tests.ops import running_server

    url = pg.fresh_database(postgres)
    env = {"RECOMMENDER_EVENTS_URL": url}
    with running_server(seed_index_dir, workers=1, env=env) as (a, _), \
            running_server(seed_index_dir, workers=1, env=env) as (b, _):
        before = call(b + "/users/shared/recommendations?k=3")[1]
        assert before["query"]["basis"] == "trending"
        status, body = call(a + "/events", "POST", {"events": [
            {"user": "shared", "film": "Lucky You", "type": "like"}]})
        assert status == 200 and body["accepted"] == 1
        after = call(b + "/users/shared/recommendations?k=3")[1]
        assert after["query"]["basis"] == "history" and after["query"]["history"] == 1
        assert all(r["reasons"][0]["film"]["id"] == "lucky-you-2007"
                   for r in after["results"])
        assert call(b + "/users/shared/history")[1]["events"][0]["film"]["id"] == \
            "lucky-you-2007"


@pytest.mark.server
def test_a_full_batch_of_the_longest_ids_fits_the_body_limit(seed_index_dir, tmp_path):
    """1,000 events, every id at its 200-character maximum (~750 KB), through the real
    server's worker: accepted whole; one byte past the limit is a 413 that says why."""
    from tests.ops import running_server

    long = "x" * 196
    events = [{"user": f"{long}{i % 7:04d}", "film": {"id": ROCKY_IDS[i % 5]}, "type": "view",
               "value": 0.5, "ts": "2026-11-01T12:00:00+00:00", "event_id": f"{long}{i:04d}",
               "recommendation_id": f"{long}{i:04d}"} for i in range(1000)]
    env = {"RECOMMENDER_EVENTS_URL": f"sqlite:///{tmp_path / 'events.sqlite3'}"}
    with running_server(seed_index_dir, workers=1, env=env) as (base, _):
        status, body = call(base + "/events", "POST", {"events": events})
        assert status == 200 and body["accepted"] == 1000, body
        status, body = call(base + "/recommend", "POST", {"query": "x" * (1024 * 1024)})
        assert status == 413 and "RECOMMENDER_MAX_BODY_BYTES" in body["error"]["message"]
