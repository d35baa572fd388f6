"""The viewers table: what a viewer's profile says of them that every answer obeys, their
country and their age limit (a kids profile). Erased with their events
(:meth:`~recommender.storage.events.EventStore.delete_user`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from recommender.storage.events import EventStore


@dataclass(frozen=True)
class ViewerContext:
    country: str | None = None
    max_age: int | None = None

    def to_dict(self) -> dict[str, str | int | None]:
        return {"country": self.country, "max_age": self.max_age}


class Viewers:
    """The viewers' stored contexts, in one event store (SQLite or PostgreSQL)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def get(self, user: str) -> ViewerContext | None:
        """``user``'s stored context; None: none stored."""
        with self.store.transaction(write=False) as cur:
            cur.execute(self.store.sql(
                "SELECT country, max_age FROM viewers WHERE user_id = ?"), (user,))
            row = cur.fetchone()
        return None if row is None else ViewerContext(row[0], row[1])

    def put(self, user: str, context: ViewerContext) -> None:
        """Store ``user``'s context whole (a field None is cleared); acknowledged once
        committed."""
        with self.store.transaction() as cur:
            cur.execute(self.store.sql(
                "INSERT INTO viewers (user_id, country, max_age, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                "country = excluded.country, max_age = excluded.max_age, "
                "updated_at = excluded.updated_at"),
                (user, context.country, context.max_age, time.time()))
