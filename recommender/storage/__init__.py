"""The service's database, a room of its own: viewer events, impressions and the
catalog's changes, in SQLite or PostgreSQL.

:func:`open_store` picks the backend from a URL: ``sqlite:///path`` (the default, a
file beside the index folder) or ``postgresql://...`` for several replicas sharing one
database. One module per backend (:mod:`.sqlite`, :mod:`.postgres`), one per table
(:mod:`.events`, :mod:`.impressions`, :mod:`.catalog_log`), each going through the
database's public :meth:`~.database.Database.transaction` and
:meth:`~.database.Database.sql` (:mod:`.database`: the schema and its migrations).
What the service makes of the events is :mod:`recommender.viewers.personal`'s job.
"""

from __future__ import annotations

from pathlib import Path

from recommender.storage.database import SchemaTooNew
from recommender.storage.events import EVENT_TYPES, Event, EventStore

__all__ = ["EVENT_TYPES", "Event", "EventStore", "SchemaTooNew", "default_url", "open_store"]


def default_url(index: Path) -> str:
    """Where events go when no URL is configured: ``<index>.events.sqlite3`` beside the
    index folder (not inside it: versions come and go, events stay)."""
    index = Path(index)
    return f"sqlite:///{index.parent / (index.name + '.events.sqlite3')}"


def open_store(url: str, timeout: float = 10.0, concurrency: int = 0) -> EventStore:
    """The store at ``url``, its schema migrated; ``timeout`` bounds each wait on the
    database (connecting, a lock, a statement), ``concurrency`` the threads that may wait
    on it at once (0: any). Raises ``ValueError`` for a URL of
    another kind, :class:`~recommender.errors.EventsUnavailable` where it can't be
    opened (and the schema error where it is too new)."""
    if url.startswith("sqlite:///"):
        from recommender.storage.sqlite import SqliteEventStore

        return SqliteEventStore(url.removeprefix("sqlite:///"), timeout=timeout,
                                concurrency=concurrency)
    if url.startswith(("postgresql://", "postgres://")):
        from recommender.storage.postgres import PostgresEventStore

        return PostgresEventStore(url, timeout=timeout, concurrency=concurrency)
    raise ValueError(f"RECOMMENDER_EVENTS_URL must be sqlite:///PATH or postgresql://..., "
                     f"got {url.split('://')[0]!r}")
