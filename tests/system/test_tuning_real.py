"""The ranking's values chosen on real viewers' logs of different pace: MovieLens
ml-latest-small over its whole span, and the same viewers pressed into a 60th of the
time (a service whose viewers come back within days, not years). Its busiest three
months alone hold too few returning viewers to backtest on (5 viewer-cuts), and the
backtest says so. Skipped where ../shared/datasets lacks it (its licence keeps it out
of the repository).

MovieLens: F. Maxwell Harper and Joseph A. Konstan, "The MovieLens Datasets: History and
Context", ACM TiiS 5(4), 2015."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from recommender.config import Settings
from recommender.viewers.tuning import Log, tune
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


def test_a_slow_log_and_a_fast_one_choose_other_half_lives(ratings):
    events, films = ratings
    start = min(e[4] for e in events)
    pressed = [(u, f, t, v, start + (ts - start) / 60) for u, f, t, v, ts in events]
    whole, fast = _tuned(events, films), _tuned(pressed, films)
    assert whole.viewers >= 100 and fast.viewers >= 100
    assert whole.values and fast.values
    # half-lives are tried in units of the log's own pace: pressed, they are hours
    assert fast.values["popular_half_life_days"] < whole.values["popular_half_life_days"] / 10
    assert whole.values["popular_half_life_days"] >= 7
    # what it chose finds at least what the settings' own values find, on the backtest
    assert whole.hit_rate >= whole.settings_hit_rate
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
