"""Judged on the future (recommender/evaluation/future.py): several time cut-offs, the
viewers pooled, each hit rate with a bootstrap interval; on a log whose viewers go on
after every cut-off, with the real model, index and SQLite store."""

import pytest

from recommender.evaluation.future import (
    bootstrap_interval,
    evaluate_future,
    format_pooled,
    paired_interval,
    parse_cuts,
)
from recommender.storage import Event
from tests.conftest import ROCKY_IDS


def test_cut_offs_are_read_as_a_range_or_a_list():
    assert parse_cuts("0.5:0.95:0.05") == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9,
                                           0.95]
    assert parse_cuts("0.7,0.8") == [0.7, 0.8]
    for bad in ("0.5:0.9:0", "1.0", "0,0.5", "soon", ""):
        with pytest.raises(ValueError):
            parse_cuts(bad)


def test_the_interval_holds_the_mean_and_narrows_with_more_viewers():
    few = bootstrap_interval([1, 0, 0, 1])
    many = bootstrap_interval([1, 0, 0, 1] * 100)
    assert few[0] <= 0.5 <= few[1] and many[0] <= 0.5 <= many[1]
    assert many[1] - many[0] < few[1] - few[0]
    assert bootstrap_interval([1, 1, 1]) == (1.0, 1.0) and bootstrap_interval([]) == (0.0, 0.0)
    assert bootstrap_interval([1, 0] * 10, seed=3) == bootstrap_interval([1, 0] * 10, seed=3)


def test_viewers_of_every_cut_off_are_pooled(engine, settings):
    # each viewer likes one Rocky film a day: after any cut-off there is a next one to find
    events = [Event(f"v{v}", film, "like", ts=1_700_000_000.0 + 86_400 * (day + v),
                    event_id=f"v{v}-{day}")
              for v in range(6) for day, film in enumerate(ROCKY_IDS)]
    report = evaluate_future(engine, events, settings, [0.4, 0.6, 0.8], k=3, seed=0)
    assert [c["cut"] for c in report["by_cut"]] == [0.4, 0.6, 0.8]
    clocks = [c["clock"] for c in report["by_cut"]]
    assert clocks == sorted(clocks) and len(set(clocks)) == 3  # the clock is each cut-off
    for model, pooled in report["pooled"].items():
        assert pooled["viewers"] == sum(c["viewers"] for c in report["by_cut"])
        expected = sum(c["hit_rate"][model] * c["viewers"] for c in report["by_cut"]) / \
            pooled["viewers"]
        assert pooled["hit_rate"] == pytest.approx(expected, abs=1e-3)
        low, high = pooled["hit_rate_ci95"]
        assert low <= pooled["hit_rate"] <= high
    assert report["pooled"]["per-user (hybrid)"]["hit_rate"] > \
        report["pooled"]["random"]["hit_rate"] - 1e-9
    assert "| per-user (hybrid) |" in format_pooled(report)
    for model, pooled in report["pooled"].items():
        n = pooled["viewers"]
        assert sum(g["viewers"] for g in pooled["by_history"].values()) == n
        assert 0 <= pooled["debiased_hit_rate"] <= pooled["hit_rate"]
        assert 0 <= pooled["ndcg"] <= pooled["hit_rate"] + 1e-9
        assert 0 < pooled["coverage"] <= 1
        if model != "popular (decayed)":
            low, high = pooled["vs_decayed_popularity_ci95"]
            difference = pooled["hit_rate"] - report["pooled"]["popular (decayed)"]["hit_rate"]
            assert low - 1e-3 <= difference <= high + 1e-3


def test_the_paired_interval_is_of_the_difference_and_tighter_than_apart():
    ours = [1, 0, 1, 1, 0, 1, 0, 1] * 20
    theirs = [1, 0, 1, 0, 0, 1, 0, 1] * 20  # the same viewers, one in eight more found
    low, high = paired_interval(ours, theirs)
    assert 0 < low <= 0.125 <= high  # above 0: a real difference, though small
    apart = bootstrap_interval(ours)[0] - bootstrap_interval(theirs)[1]
    assert apart < 0  # two separate intervals overlap and can't tell
    assert paired_interval(ours, ours) == (0.0, 0.0)
