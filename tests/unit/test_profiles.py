"""A viewer's profile: what each event weighs, and time's decay."""

import pytest

from recommender.storage import Event
from recommender.viewers.personal import DAY, build_profile, event_weight


@pytest.mark.parametrize("kind, value, expected", [
    ("like", None, 1.0), ("dislike", None, -1.0), ("rating", 5, 1.0), ("rating", 0, -1.0),
    ("rating", 2.5, 0.0), ("view", 1.0, 1.0), ("view", 0.5, 0.5), ("view", 0.05, -0.15),
    ("view", None, 1.0), ("watchlist", None, 0.3),
])
def test_each_event_weighs_as_documented(kind, value, expected):
    assert event_weight(kind, value) == pytest.approx(expected)


def test_recent_events_weigh_more_and_a_film_sums_its_events():
    now = 1_000_000_000.0
    events = [Event("u", "a", "like", ts=now), Event("u", "b", "like", ts=now - 30 * DAY),
              Event("u", "c", "view", 0.9, ts=now), Event("u", "c", "dislike", ts=now - DAY),
              Event("u", "d", "watchlist", ts=now)]
    profile = build_profile(events, now, half_life_days=30)
    assert profile.weights["a"] == pytest.approx(1.0)
    assert profile.weights["b"] == pytest.approx(0.5)  # one half-life old
    assert profile.weights["c"] == pytest.approx(0.9 - 0.5 ** (1 / 30))
    assert profile.seen == {"a", "b", "c"}  # a watchlist entry is not seen
    assert profile.positives == ["a", "b"]  # c was watched, then disliked: not positive
    assert set(profile.liked) == {"a", "b", "d"} and set(profile.disliked) == {"c"}
