"""Times as the contract takes them, parsed and compared in one place.

A time is ISO 8601 with its offset and is kept in UTC. Python's calendar ends at the
years 1 and 9999, so a time at either end with an offset (``9999-12-31T23:59:59-01:00``
is in the year 10000 once in UTC) can't be converted: it is refused here with a
``ValueError`` that says why, which every caller turns into a 400 naming its field,
instead of the ``OverflowError`` that was a 500 on five routes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

FIRST = datetime(1, 1, 1, tzinfo=UTC)
LAST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def in_utc(moment: datetime) -> datetime:
    """``moment`` (with an offset) in UTC; ValueError where that leaves the calendar."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; add one, e.g. Z for UTC "
                         "(2026-12-31T23:59:59Z)")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{moment.isoformat()} is outside the calendar once in UTC (from "
            f"{FIRST.date().isoformat()} to {LAST.date().isoformat()}T23:59:59Z); give a "
            "time inside it") from None


def parse_moment(value: Any) -> str:
    """An ISO 8601 time with its offset, as stored (UTC, ``Z``, to the second); a time
    without an offset is ambiguous and one outside the calendar once in UTC can't be
    stored: ValueError says which."""
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 time as a string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 time; "
                         "write it as 2026-12-31T23:59:59Z") from None
    # isoformat, not strftime: %Y drops a year's leading zeros (0148 -> 148) on glibc
    return in_utc(moment).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def timestamp(moment: datetime) -> float:
    """Seconds since 1970 of an aware ``moment``; ValueError where it leaves the calendar
    in UTC (``datetime.timestamp`` raises OverflowError there)."""
    return in_utc(moment).timestamp()
