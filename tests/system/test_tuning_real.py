"""The ranking's values chosen on real viewers' logs of different pace: MovieLens
ml-latest-small over its whole span, and the same viewers pressed into a 60th of the
time (a service whose viewers come back within days, not years). Its busiest three
months alone hold too few returning viewers to backtest on, and the backtest says so.
Skipped where ../shared/datasets lacks it (its licence keeps it out of the repository).

MovieLens: F. Maxwell Harper and Joseph A. Konstan, "The MovieLens Datasets: History and
Context", ACM TiiS 5(4), 2015."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from recommender.config import Settings
from recommender.viewers.timeline import Log
from recommender.viewers.tuning import tune
from tests.conftest import SHARED

RATINGS = SHARED / "datasets" / "movielens-latest-small" / "ratings.csv"
DAY = 86_400.0

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not RATINGS.is_file(), reason="MovieLens ml-latest-small is not in ../shared/datasets")]


@pytest.fixture(scope="module")
def ratings():
    with RATINGS.open(newline="") as handle:
        events = [(r["userId"], r["movieId"], "rating", float(r["rating"]),
                   float(r["timestamp"])) for r in csv.DictReader(handle)]
    return events, sorted({e[1] for e in events})


def _tuned(events, films):
    return tune(Log.read_from(events, films), Settings(), max_films=2000)


def test_a_slow_log_and_a_fast_one_are_each_backtested_in_their_own_time(ratings):
    """The whole span and the same viewers pressed into a 60th of the time: each is
    backtested at nine cut-offs of its own, on its own pace's half-lives. What each
    chooses is what wins by a one-sided 95% margin there: the whole span's popular
    weight; on the pressed log, nothing beats the settings' values by that margin (with
    a margin of one standard error they chose 28.8 and 0.48 days: docs/viewer-quality.md)."""
    events, films = ratings
    start = min(e[4] for e in events)
    pressed = [(u, f, t, v, start + (ts - start) / 60) for u, f, t, v, ts in events]
    whole, fast = _tuned(events, films), _tuned(pressed, films)
    assert whole.viewers >= 200 and fast.viewers >= 200 and len(whole.cuts) == 9
    assert whole.values and fast.values and whole.values != fast.values
    assert whole.hit_rate > whole.settings_hit_rate  # it moved because it found more
    assert fast.hit_rate >= fast.settings_hit_rate


def test_the_busiest_months_alone_are_too_few_to_choose_on(ratings):
    events, films = ratings
    ts = np.sort([e[4] for e in events])
    span = 90 * DAY
    busiest = float(ts[int(np.argmax(np.searchsorted(ts, ts + span) - np.arange(len(ts))))])
    months = [e for e in events if busiest <= e[4] < busiest + span]
    tuned = _tuned(months, films)
    assert len(months) > 4000
    assert tuned.values == {} and "viewer-cuts" in (tuned.why_not or "")
