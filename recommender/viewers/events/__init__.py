"""Viewer events (views, likes, dislikes, ratings, watchlist) in a real database.

:func:`open_store` picks the backend from a URL: ``sqlite:///path`` (the default, a
file beside the index folder) or ``postgresql://...`` for several replicas sharing one
store. What the service makes of the events is :mod:`recommender.viewers.personal`'s job.
"""

from __future__ import annotations

from pathlib import Path

from recommender.viewers.events.store import EVENT_TYPES, Event, EventStore, SchemaTooNew

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
        from recommender.viewers.events.sqlite import SqliteEventStore

        return SqliteEventStore(url.removeprefix("sqlite:///"), timeout=timeout,
                                concurrency=concurrency)
    if url.startswith(("postgresql://", "postgres://")):
        from recommender.viewers.events.postgres import PostgresEventStore

        return PostgresEventStore(url, timeout=timeout, concurrency=concurrency)
    raise ValueError(f"RECOMMENDER_EVENTS_URL must be sqlite:///PATH or postgresql://..., "
                     f"got {url.split('://')[0]!r}")
