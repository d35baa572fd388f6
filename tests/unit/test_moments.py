"""Times at the calendar's edges (recommender/catalog/moments.py): refused with a reason,
never an OverflowError."""

from __future__ import annotations

from datetime import datetime

import pytest

from recommender.catalog.moments import parse_moment, timestamp


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+05:00"])
def test_a_time_that_leaves_the_calendar_in_utc_is_refused_with_a_reason(text):
    with pytest.raises(ValueError, match="outside the calendar once in UTC"):
        parse_moment(text)
    with pytest.raises(ValueError, match="outside the calendar"):
        timestamp(datetime.fromisoformat(text))


@pytest.mark.parametrize("text, stored", [
    ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
    ("9999-12-31T22:59:59-01:00", "9999-12-31T23:59:59Z"),
    ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
    ("0001-01-01T05:00:00+05:00", "0001-01-01T00:00:00Z"),
    ("2026-12-05T10:00:00+01:00", "2026-12-05T09:00:00Z"),
])
def test_the_whole_calendar_is_accepted(text, stored):
    assert parse_moment(text) == stored


def test_a_time_without_an_offset_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        parse_moment("2026-12-05T10:00:00")
