"""The leave-last-out evaluation of per-viewer recommendations (recommender/user_evaluation.py)
and `recommender eval-users`, on the labelled seed log and on a log made by
scripts/gen_viewers.py, with the real model, index and SQLite store."""

import json
from datetime import datetime

import pytest

from recommender.evaluation.viewer_quality import (
    _Scores,
    evaluate_users,
    format_table,
    split_last_out,
)
from recommender.storage import Event
from tests.conftest import SEED_LOG


def _event(user: str, film: str, type_: str, ts: float, value: float | None = None) -> Event:
    return Event(user, film, type_, value, ts, f"{user}:{ts}", None)


def _read(path) -> list[Event]:
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        events.append(Event(d["user"], d["film"]["id"], d["type"], d.get("value"),
                            datetime.fromisoformat(d["ts"]).timestamp(), d["event_id"], None))
    return events


def test_the_last_positive_event_of_a_new_film_is_held_out():
    events = [
        _event("a", "f1", "like", 1), _event("a", "f5", "watchlist", 1.5),
        _event("a", "f2", "view", 2, 0.9),
        _event("a", "f1", "view", 3, 1.0),   # a rewatch: not a discovery
        _event("a", "f3", "view", 4, 0.1),   # given up early: not taste
        _event("a", "f4", "dislike", 5),
        _event("b", "f2", "like", 2), _event("b", "f3", "rating", 9, 4.0),
        _event("b", "f4", "rating", 10, 2.0),  # after the held-out one: dropped
        _event("c", "f1", "like", 1),          # nothing before it
        _event("d", "f1", "dislike", 1),       # nothing positive
    ]
    split = split_last_out(reversed(events))  # file order doesn't matter, time does
    assert {u: e.film_id for u, e in split.held_out.items()} == {"a": "f2", "b": "f3"}
    kept = {(e.user, e.film_id, e.ts) for e in split.history}
    assert ("a", "f1", 1) in kept and ("a", "f2", 2) not in kept and ("a", "f4", 5) not in kept
    assert ("b", "f4", 10) not in kept and ("b", "f2", 2) in kept
    assert ("c", "f1", 1) in kept and ("d", "f1", 1) in kept  # they still count for trending
    assert split.skipped == {"fewer than 1 events before the held-out one": 1,
                             "no positive event of a film new to them": 1}
    assert set(split_last_out(events, min_history=2).held_out) == {"a"}


def test_hit_rate_and_ndcg_of_known_ranks():
    scores = _Scores()
    scores.add(["x", "y"], "x")          # rank 1: ndcg 1
    scores.add(["y", "z", "x"], "x")     # rank 3: 1 / log2(4) = 0.5
    scores.add(["y", "z"], "x")          # missed
    summary = scores.summary(films=6)
    assert summary["hit_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["ndcg"] == pytest.approx(0.5, abs=1e-4)
    assert summary["coverage"] == 0.5 and summary["films_shown"] == 3


@pytest.fixture(scope="module")
def seed_report(engine, settings):
    return evaluate_users(engine, _read(SEED_LOG), settings, k=3, modes=("hybrid", "semantic"))


def test_the_seed_log_per_user_model_beats_trending_and_random(seed_report):
    models = seed_report["models"]
    assert seed_report["viewers"] == 9 and sum(seed_report["skipped"].values()) == 2
    assert models["per-user (hybrid)"]["hit_rate"] > models["trending"]["hit_rate"]
    assert models["per-user (hybrid)"]["hit_rate"] > models["random"]["hit_rate"]
    # a Rocky fan's next Rocky film is among the three they get: content finds sequels
    assert seed_report["segments"]["rocky"]["per-user (hybrid)"]["hit_rate"] == 1.0
    assert models["per-user (hybrid)"]["trending_fallbacks"] == 0
    assert 0 < models["trending"]["coverage"] <= 1
    table = format_table(seed_report)
    assert "| per-user (hybrid) | 9 |" in table and "rocky viewers" in table


def test_the_figures_are_the_same_whenever_they_are_run(seed_report, engine, settings):
    again = evaluate_users(engine, _read(SEED_LOG), settings, k=3, modes=("hybrid", "semantic"))
    assert again["models"] == seed_report["models"]  # the clock is the log's, random seeded


def test_an_event_sent_twice_counts_once(engine, settings):
    events = _read(SEED_LOG)
    once = evaluate_users(engine, events, settings, k=3)
    twice = evaluate_users(engine, events + events, settings, k=3)  # same event_ids
    assert twice["models"] == once["models"] and twice["events"] == once["events"]


def test_a_global_time_split_learns_nothing_after_its_cut_off():
    from recommender.evaluation.viewer_quality import split_by_time

    events = [Event("a", f"f{i}", "like", ts=float(i), event_id=f"a{i}") for i in range(9)]
    events += [Event("b", "f0", "like", ts=9.5, event_id="b0")]  # b: nothing before the cut
    split = split_by_time(events, fraction=0.8)  # the cut-off: the 9th event's time, 8.0
    assert [e.event_id for e in split.history] == [f"a{i}" for i in range(8)]
    assert split.held_out["a"].event_id == "a8" and "b" not in split.held_out
    assert sum(split.skipped.values()) == 1
