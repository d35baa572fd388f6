"""The events table: what viewers did (views, likes, dislikes, ratings, watchlist, clicks).

An event is written once (``event_id`` is unique: the same event sent twice is stored
once) and acknowledged only after its transaction commits. :class:`EventStore` is the
database (:class:`~recommender.storage.database.Database`) with this table's queries: what
the viewers' side opens.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from recommender.storage.database import Database

EVENT_TYPES = ("view", "like", "dislike", "rating", "watchlist", "click")
"""``click``: a film opened from a list. It is counted as a conversion of the answer it
came from (:mod:`recommender.storage.impressions`), never as taste: profiles,
trending and the collaborative model leave it out."""

@dataclass(frozen=True)
class Event:
    """One thing a viewer did with a film. ``ts`` is seconds since the epoch (UTC)."""

    user: str
    film_id: str
    type: str
    value: float | None = None
    ts: float | None = None
    """None: when it is stored (an event read back always has its time)."""
    event_id: str = ""
    recommendation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "user": self.user, "film": self.film_id,
                "type": self.type, "value": self.value, "ts": iso_time(self.ts or 0.0),
                "recommendation_id": self.recommendation_id}


def iso_time(ts: float) -> str:
    """``ts`` as ISO 8601 UTC; one the calendar can't hold (stored before its range was
    checked) is shown at the calendar's end instead, so a history always reads back."""
    try:
        moment = datetime.fromtimestamp(ts, UTC)
    except (ValueError, OverflowError, OSError):
        moment = datetime.min.replace(tzinfo=UTC) if ts < 0 else \
            datetime.max.replace(tzinfo=UTC)
    return moment.isoformat(timespec="milliseconds")


def new_event_id() -> str:
    return uuid.uuid4().hex


class EventStore(Database):
    """The database, with the events table's queries."""

    def add(self, events: Sequence[Event]) -> tuple[int, int]:
        """Store ``events`` in one transaction; returns (stored, duplicates): an event whose
        ``event_id`` is already stored (or repeats one in the batch) is a duplicate."""
        received = time.time()
        stored = 0
        with self.transaction() as cur:
            for event in events:
                cur.execute(self.sql(
                    "INSERT INTO events (event_id, user_id, film_id, type, value, ts, "
                    "recommendation_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (event_id) DO NOTHING"),
                    (event.event_id or new_event_id(), event.user, event.film_id,
                     event.type, event.value, received if event.ts is None else event.ts,
                     event.recommendation_id, received))
                stored += max(cur.rowcount, 0)
        return stored, len(events) - stored

    def delete_user(self, user: str) -> int:
        """Erase every event of ``user``, and their stored context
        (:mod:`recommender.storage.viewers`) in the same transaction; returns how many
        events there were."""
        with self.transaction() as cur:
            cur.execute(self.sql("DELETE FROM events WHERE user_id = ?"), (user,))
            erased = max(cur.rowcount, 0)
            cur.execute(self.sql("DELETE FROM viewers WHERE user_id = ?"), (user,))
            return erased

    # -- reading -------------------------------------------------------------------

    def history(self, user: str, limit: int) -> list[Event]:
        """``user``'s newest ``limit`` events, newest first."""
        with self.transaction(write=False) as cur:
            cur.execute(self.sql(
                "SELECT user_id, film_id, type, value, ts, event_id, recommendation_id "
                "FROM events WHERE user_id = ? ORDER BY ts DESC, seq DESC LIMIT ?"),
                (user, int(limit)))
            return [Event(*row) for row in cur.fetchall()]

    def recent(self, since: float, limit: int) -> list[tuple[str, str, float | None, float]]:
        """(film, type, value, ts) of the newest ``limit`` events since ``since``: what
        trending is counted from, bounded however busy the service is."""
        with self.transaction(write=False) as cur:
            cur.execute(self.sql(
                "SELECT film_id, type, value, ts FROM events WHERE ts >= ? "
                "ORDER BY ts DESC, seq DESC LIMIT ?"), (since, int(limit)))
            return [tuple(row) for row in cur.fetchall()]

    def interactions(self, page: int = 50_000) -> Iterator[tuple[str, str, float]]:
        """(user, film, ts) of every event but clicks, in the order they arrived, read a
        page at a time (by the arrival number, so a long read holds no transaction open)."""
        for user, film, _, _, ts in self.timeline(page):
            yield user, film, ts

    def timeline(self, page: int = 50_000
                 ) -> Iterator[tuple[str, str, str, float | None, float]]:
        """(user, film, type, value, ts) of every event but clicks, as
        :meth:`interactions` reads them: what training backtests its choices on."""
        after = 0
        while True:
            with self.transaction(write=False) as cur:
                cur.execute(self.sql("SELECT seq, user_id, film_id, type, value, ts FROM "
                                      "events WHERE seq > ? AND type <> 'click' ORDER BY "
                                      "seq LIMIT ?"), (after, page))
                rows = cur.fetchall()
            if not rows:
                return
            after = rows[-1][0]
            for _, user, film, type_, value, ts in rows:
                yield user, film, type_, None if value is None else float(value), float(ts)

    def count(self) -> int:
        with self.transaction(write=False) as cur:
            cur.execute("SELECT COUNT(*) FROM events")
            return int(cur.fetchone()[0])
