"""Following a store while serving: a follower's swap and refusal through the app."""

import time

from recommender.api import http_io
from recommender.api.app import create_app
from recommender.config import Settings
from recommender.distribution.live import open_live
from recommender.distribution.published import publish
from tests.conftest import CREED


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
        # each phase its own deadline, generous: a loaded machine is slower, not wrong (one
        # 20 s deadline for both phases failed under stress-ng)
        deadline = time.monotonic() + 120
        while client.get("/films/creed-2015").status_code != 200 and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.get("/films/creed-2015").status_code == 200
        next_version({**CREED, "id": "creed-ii-2018", "title": "Creed II"})
        bad = publish(out, url).version
        (store / "versions" / bad / "index.faiss").write_bytes(b"not an index")
        deadline = time.monotonic() + 120
        while "refused" not in client.get("/ready").get_json() and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        ready = client.get("/ready").get_json()
        assert ready["films"] == 9 and bad in ready["refused"]
        metrics = client.get("/metrics").get_data(as_text=True)
        assert 'recommender_index_reloads_total{outcome="refused"} 1.0' in metrics
    finally:
        live.stop()
