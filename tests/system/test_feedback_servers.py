"""Impressions and experiments through the real server as an operator meets them: an
experiments file broken after start and a SIGHUP, a bad file at start, the event
database restarted while answers are recorded."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.ops import call, free_port, running_server

GOOD = {"experiments": [{"name": "ab", "surfaces": ["user_recommendations"],
                         "variants": [{"name": "default", "weight": 1},
                                      {"name": "popular", "weight": 1,
                                       "ranking": {"source": "popular"}}]}]}


def _wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"no {what} within {seconds} s")


def _variant(base: str, user: str) -> dict | None:
    status, body = call(f"{base}/users/{user}/recommendations?k=2")
    assert status == 200, body
    return body.get("experiment")


def test_a_file_broken_after_start_and_a_sighup_leave_the_experiments_running(
        seed_index_dir, tmp_path):
    path = tmp_path / "experiments.json"
    path.write_text(json.dumps(GOOD, indent=2))
    env = {"RECOMMENDER_EVENTS_URL": f"sqlite:///{tmp_path / 'events.sqlite3'}",
           "RECOMMENDER_EXPERIMENTS": str(path)}
    with running_server(seed_index_dir, workers=2, env=env) as (base, proc):
        before = {u: _variant(base, u) for u in ("ann", "bo", "cy")}
        assert all(v["name"] == "ab" for v in before.values())
        path.write_text('{"experiments": [{"name": "ab",,')  # broken by hand
        proc.send_signal(signal.SIGHUP)  # new workers: they must still boot
        time.sleep(3)
        _wait(lambda: call(base + "/ready")[0] == 200, 60, "ready server")
        assert proc.poll() is None
        assert {u: _variant(base, u) for u in before} == before
        # mended with another experiment: the next SIGHUP takes it
        changed = json.loads(json.dumps(GOOD))
        changed["experiments"][0]["name"] = "ab2"
        path.write_text(json.dumps(changed))
        proc.send_signal(signal.SIGHUP)
        _wait(lambda: all((_variant(base, u) or {}).get("name") == "ab2" for _ in range(4)
                          for u in before), 60, "new experiment on every worker")


def test_a_bad_file_at_start_stops_the_server_naming_line_and_field(seed_index_dir,
                                                                   tmp_path):
    path = tmp_path / "experiments.json"
    bad = json.loads(json.dumps(GOOD))
    bad["experiments"][0]["variants"][0]["weight"] = -1
    text = json.dumps(bad, indent=2)
    path.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if '"weight": -1' in row)
    done = subprocess.run(
        [sys.executable, "-m", "recommender.cli", "serve", "--index", str(seed_index_dir),
         "--port", str(free_port()), "--workers", "1"], cwd=ROOT, capture_output=True,
        text=True, timeout=120, env={**__import__("os").environ,
                                     "RECOMMENDER_EXPERIMENTS": str(path)})
    assert done.returncode != 0
    assert f"line {line}, experiments[0].variants[0].weight:" in done.stderr


def test_the_event_database_restarted_drops_impressions_and_records_again(seed_index_dir):
    from tests import pg

    reason = pg.why_not()
    if reason:
        pytest.skip(reason)
    with pg.restartable_server() as database:
        url = pg.fresh_database(database.url)
        with running_server(seed_index_dir, workers=1,
                            env={"RECOMMENDER_EVENTS_URL": url}) as (base, _):
            assert call(base + "/search?q=bokser&k=2")[0] == 200
            _wait(lambda: _totals(base).get("search", 0) == 1, 20, "written impression")
            database.stop()
            for _ in range(5):  # answers go on, their impressions can't be written
                started = time.monotonic()
                assert call(base + "/search?q=bokser&k=2")[0] == 200
                assert time.monotonic() - started < 1.0
            status, body = call(base + "/admin/stats?days=1")
            assert status == 503 and body["error"]["code"] == "events_unavailable"
            _wait(lambda: _dropped(base) >= 5, 30, "impressions counted as dropped")
            database.start()
            _wait(lambda: call(base + "/search?q=bokser&k=2")[0] == 200 and
                  _totals(base).get("search", 0) >= 2, 60, "impressions written again")


def _totals(base: str) -> dict[str, int]:
    status, body = call(base + "/admin/stats?days=1")
    return {t["surface"]: t["impressions"] for t in body["totals"]} if status == 200 else {}


def _dropped(base: str) -> float:
    with __import__("urllib.request").request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("recommender_impressions_dropped_total{"))


def test_a_sighup_right_after_answers_loses_none_of_their_impressions(seed_index_dir,
                                                                       tmp_path):
    env = {"RECOMMENDER_EVENTS_URL": f"sqlite:///{tmp_path / 'events.sqlite3'}",
           # a writer that waits long before writing: the queue is full of them at the HUP
           "RECOMMENDER_IMPRESSIONS_FLUSH_SECONDS": "5", "RECOMMENDER_IMPRESSIONS_BATCH": "1000"}
    with running_server(seed_index_dir, workers=2, env=env) as (base, proc):
        for _ in range(40):
            assert call(base + "/search?q=bokser&k=2")[0] == 200
        proc.send_signal(signal.SIGHUP)  # the workers go: what they queued is written first
        _wait(lambda: _totals(base).get("search", 0) == 40, 60, "all 40 impressions")
        time.sleep(2)
        assert _totals(base)["search"] == 40


def _pinned(base: str) -> str | None:
    status, body = call(base + "/search?q=bokser&k=3")
    assert status == 200, body
    return body["results"][0].get("promoted")


def test_the_rules_file_is_read_again_on_sighup_and_a_bad_one_keeps_the_rules(
        seed_index_dir, tmp_path):
    """The rules as the experiments: a pin in force; a file broken by hand and a SIGHUP
    leave it in force (workers still boot); a mended file with another pin is taken by
    every worker; a bad file at start stops the server naming its line and field."""
    path = tmp_path / "rules.json"
    rules = {"pin": [{"name": "first", "surface": "search", "film": "lucky-you-2007",
                      "place": 1}]}
    path.write_text(json.dumps(rules))
    env = {"RECOMMENDER_EVENTS_URL": f"sqlite:///{tmp_path / 'events.sqlite3'}",
           "RECOMMENDER_RULES": str(path)}
    with running_server(seed_index_dir, workers=2, env=env) as (base, proc):
        assert all(_pinned(base) == "first" for _ in range(4))
        path.write_text('{"pin": [{"name": "x",,')
        proc.send_signal(signal.SIGHUP)
        time.sleep(3)
        _wait(lambda: call(base + "/ready")[0] == 200, 60, "ready server")
        assert proc.poll() is None and all(_pinned(base) == "first" for _ in range(4))
        rules["pin"][0]["name"] = "second"
        path.write_text(json.dumps(rules))
        proc.send_signal(signal.SIGHUP)
        _wait(lambda: all(_pinned(base) == "second" for _ in range(4)), 60,
              "the new rules on every worker")
        assert call(base + "/admin/status")[1]["rules"]["pin"][0]["name"] == "second"
    text = json.dumps({"promote": [{"name": "p", "surface": "search", "filter": "year >",
                                    "places": 1, "of_first": 2}]}, indent=2)
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "recommender.cli", "serve", "--index", str(seed_index_dir),
         "--port", str(free_port()), "--workers", "1"], cwd=ROOT, capture_output=True,
        text=True, timeout=120, env={**__import__("os").environ, **env})
    assert done.returncode != 0
    assert "line 6, promote[0].filter: the filter does not parse" in done.stderr, done.stderr
