"""A store that comes back by itself (issue 40): a server started while its SQLite file
can't be written (made immutable with chattr, which binds root too, as a read-only
mount or a volume being repaired would) says so on /ready, refuses events with a 503,
and once the file takes writes again stores events and impressions with no restart."""

from __future__ import annotations

import subprocess
import time

import pytest

from recommender.storage import open_store
from tests.ops import call, running_server


def _wait_for(check, seconds: float = 10.0):
    """``check()`` once it is truthy, polled until ``seconds`` have passed (then the last)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.fixture
def immutable_store(tmp_path):
    path = tmp_path / "events.sqlite3"
    open_store(f"sqlite:///{path}").close()
    files = [str(p) for p in tmp_path.glob("events.sqlite3*")]
    if subprocess.run(["chattr", "+i", *files], capture_output=True).returncode:
        pytest.skip("chattr +i is refused here (it needs root and a file system that has it)")
    try:
        yield path, files
    finally:
        subprocess.run(["chattr", "-i", *files], capture_output=True)


def test_a_store_unwritable_at_start_heals_without_a_restart(seed_index_dir, immutable_store):
    path, files = immutable_store
    like = {"user": "ann", "film": {"id": "rocky-1976"}, "type": "like"}
    with running_server(seed_index_dir, workers=1, env={
            "RECOMMENDER_EVENTS_URL": f"sqlite:///{path}",
            "RECOMMENDER_IMPRESSIONS_FLUSH_SECONDS": "0.2"}) as (base, _):
        events = call(base + "/ready")[1]["events"]
        assert events["status"] == "read_only" and "refuses writes" in events["reason"]
        status, body = call(base + "/events", "POST", like)
        assert (status, body["error"]["code"]) == (503, "events_unavailable")
        found = call(base + "/search?q=bokser&k=2")
        assert found[0] == 200, found  # the rest goes on

        subprocess.run(["chattr", "-i", *files], check=True)
        assert _wait_for(lambda: call(base + "/ready")[1]["events"]["status"] == "ok")
        # every thread of the worker, not only the one that probed, writes again at once
        for i in range(8):
            status, body = call(base + "/events", "POST", {**like, "event_id": f"after-{i}"})
            assert status == 200 and body["accepted"] == 1, body
        for _ in range(5):
            found = call(base + "/search?q=bokser&k=2&user=ann")
            assert found[0] == 200, found

        def impressions() -> int:
            stats = call(base + "/admin/stats?days=1")[1]
            return sum(t["impressions"] for t in stats["totals"])

        assert _wait_for(lambda: impressions() >= 5), impressions()
