"""A fleet of real servers follows one store under load."""

import threading
import time

import pytest

from recommender.distribution.published import publish
from tests.conftest import CREED
from tests.ops import call, running_server


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
