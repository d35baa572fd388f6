"""The ranking's values chosen by `recommender train` (a process of its own) on a store's
log, recorded with the model, and served by every worker of a real server: shown in
/admin/status with where each comes from; a variable the operator set stays."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np

from recommender.storage import Event, open_store
from recommender.viewers import collaborative
from recommender.viewers.tuning import TUNABLE
from tests.conftest import ROOT
from tests.ops import call, running_server

DAY = 86_400.0


def _drifting(films: list[str], viewers: int = 300) -> list[Event]:
    """Viewers who come back four times over a month and watch what is hot then: each
    film is hot in turn."""
    rng = np.random.default_rng(3)
    events = []
    for v in range(viewers):
        for visit in np.sort(rng.uniform(0.0, 1.0, size=4)):
            for k, film in enumerate(rng.normal(visit * len(films), 1.0, size=2).round()
                                     .astype(int) % len(films)):
                events.append(Event(f"v{v}", films[int(film)], "rating", 4.5,
                                    ts=1.7e9 + visit * 30 * DAY + k,
                                    event_id=f"v{v}-{visit:.6f}-{k}"))
    return events


def test_every_worker_serves_the_trained_values_and_an_explicit_one_stays(
        tmp_path, seed_index_dir):
    index = tmp_path / "seeds"
    shutil.copytree(seed_index_dir, index, symlinks=True)
    films = [json.loads(line)["id"] for line in (ROOT / "seeds" / "films.jsonl").open()]
    url = f"sqlite:///{tmp_path / 'events.sqlite3'}"
    store = open_store(url)
    store.add(_drifting(films))
    store.close()
    done = subprocess.run([sys.executable, "-m", "recommender.cli", "train", "--index",
                           str(index), "--events-url", url], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "ranking tuned on" in done.stdout and "backtest hit@10" in done.stdout
    manifest = json.loads((collaborative.current_path(index) / "manifest.json").read_text())
    tuned = manifest["tuned"]["values"]
    assert set(tuned) == set(TUNABLE) and manifest["tuned"]["viewers"] >= 50
    env = {"RECOMMENDER_EVENTS_URL": url, "RECOMMENDER_NEXT_WEIGHT": "0.7"}
    with running_server(index, workers=2, env=env) as (base, _):
        answers = [call(f"{base}/admin/status")[1] for _ in range(8)]  # either worker
        for status in answers:
            ranking = status["ranking"]
            assert ranking["next_weight"] == {"value": 0.7, "from": "explicit"}
            for name in set(TUNABLE) - {"next_weight"}:
                assert ranking[name] == {"value": tuned[name], "from": "tuned"}
            assert status["collaborative"]["tuned"]["values"] == tuned
        _, page = call(f"{base}/users/v1/recommendations?k=3")
        assert page["query"]["model"] == manifest["version"] and page["results"]
