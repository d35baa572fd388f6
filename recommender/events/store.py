"""The event store: one schema, one set of queries, for SQLite and PostgreSQL.

An event is written once (``event_id`` is unique: the same event sent twice is stored
once) and acknowledged only after its transaction commits. The two backends differ in
how they connect and how they spell a parameter (:mod:`recommender.events.sqlite`,
:mod:`recommender.events.postgres`); the schema, its migrations and every query are
here, so the same test suite runs against both (tests/test_events.py).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

EVENT_TYPES = ("view", "like", "dislike", "rating", "watchlist")

MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "events, by user and time", (
        """CREATE TABLE events (
            seq {serial},
            event_id TEXT NOT NULL UNIQUE,
            user_id TEXT NOT NULL,
            film_id TEXT NOT NULL,
            type TEXT NOT NULL,
            value DOUBLE PRECISION,
            ts DOUBLE PRECISION NOT NULL,
            recommendation_id TEXT,
            received_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX events_by_user ON events (user_id, ts)",
        "CREATE INDEX events_by_time ON events (ts)",
    )),
)
"""The schema, as numbered steps. ``{serial}`` is the backend's auto-numbered key: the
order events arrived in, which breaks ties between events of the same time. A store
applies the steps its database lacks when it opens, in one transaction, and records them
in ``schema_migrations``; a database newer than this code is refused, not written to."""


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer release of this service."""


@dataclass(frozen=True)
class Event:
    """One thing a viewer did with a film. ``ts`` is seconds since the epoch (UTC)."""

    user: str
    film_id: str
    type: str
    value: float | None = None
    ts: float = 0.0
    event_id: str = ""
    recommendation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "user": self.user, "film": self.film_id,
                "type": self.type, "value": self.value,
                "ts": datetime.fromtimestamp(self.ts, UTC).isoformat(timespec="milliseconds"),
                "recommendation_id": self.recommendation_id}


def new_event_id() -> str:
    return uuid.uuid4().hex


class EventStore:
    """Viewer events in a database; thread-safe (a connection per thread).

    Subclasses give :meth:`_connect` and the parameter marker; everything else is shared.
    """

    marker = "?"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
    kind = ""

    def __init__(self) -> None:
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        try:
            self.migrate()
        except BaseException:
            self.close()  # a refused database leaves no connection behind
            raise

    # -- connections -------------------------------------------------------------

    def _connect(self) -> Any:
        raise NotImplementedError

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[Any]:
        """A cursor in a transaction, committed on leaving (rolled back on an error):
        a write is acknowledged only once it is committed."""
        conn = self._connection()
        cursor = conn.cursor()
        try:
            self._begin(cursor, write)
            yield cursor
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            cursor.close()

    def _begin(self, cursor: Any, write: bool) -> None:
        """Start the transaction, where the driver doesn't on the first statement."""

    def _sql(self, text: str) -> str:
        return text.replace("?", self.marker)

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(Exception):  # on the way out: nothing left to do
                    conn.close()
            self._connections.clear()
        self._local = threading.local()

    # -- schema --------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply the migrations this database lacks, all in one transaction (so a process
        killed half-way leaves the schema as it was); returns the steps applied. Two
        processes starting at once take turns (a lock), so each step runs once."""
        applied = []
        with self._transaction() as cur:
            self._lock_schema(cur)
            cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                        "version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
                        "applied_at DOUBLE PRECISION NOT NULL)")
            cur.execute("SELECT version FROM schema_migrations")
            done = {row[0] for row in cur.fetchall()}
            if max(done, default=0) > MIGRATIONS[-1][0]:
                raise SchemaTooNew(
                    f"the event database is at schema version {max(done)}; this release "
                    f"knows up to {MIGRATIONS[-1][0]}. Upgrade the service.")
            for version, description, statements in MIGRATIONS:
                if version in done:
                    continue
                for statement in statements:
                    cur.execute(statement.replace("{serial}", self.serial))
                cur.execute(self._sql("INSERT INTO schema_migrations VALUES (?, ?, ?)"),
                            (version, description, time.time()))
                applied.append(version)
        return applied

    def _lock_schema(self, cursor: Any) -> None:
        """Serialise migrations between processes that start at once, where the
        transaction itself doesn't (PostgreSQL: an advisory lock)."""

    def schema_version(self) -> int:
        with self._transaction(write=False) as cur:
            cur.execute("SELECT MAX(version) FROM schema_migrations")
            return int(cur.fetchone()[0] or 0)

    # -- writing -------------------------------------------------------------------

    def add(self, events: Sequence[Event]) -> tuple[int, int]:
        """Store ``events`` in one transaction; returns (stored, duplicates): an event whose
        ``event_id`` is already stored (or repeats one in the batch) is a duplicate."""
        received = time.time()
        stored = 0
        with self._transaction() as cur:
            for event in events:
                cur.execute(self._sql(
                    "INSERT INTO events (event_id, user_id, film_id, type, value, ts, "
                    "recommendation_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (event_id) DO NOTHING"),
                    (event.event_id or new_event_id(), event.user, event.film_id,
                     event.type, event.value, event.ts or received,
                     event.recommendation_id, received))
                stored += max(cur.rowcount, 0)
        return stored, len(events) - stored

    def delete_user(self, user: str) -> int:
        """Erase every event of ``user``; returns how many there were."""
        with self._transaction() as cur:
            cur.execute(self._sql("DELETE FROM events WHERE user_id = ?"), (user,))
            return max(cur.rowcount, 0)

    # -- reading -------------------------------------------------------------------

    def history(self, user: str, limit: int) -> list[Event]:
        """``user``'s newest ``limit`` events, newest first."""
        with self._transaction(write=False) as cur:
            cur.execute(self._sql(
                "SELECT user_id, film_id, type, value, ts, event_id, recommendation_id "
                "FROM events WHERE user_id = ? ORDER BY ts DESC, seq DESC LIMIT ?"),
                (user, int(limit)))
            return [Event(*row) for row in cur.fetchall()]

    def recent(self, since: float, limit: int) -> list[tuple[str, str, float | None, float]]:
        """(film, type, value, ts) of the newest ``limit`` events since ``since``: what
        trending is counted from, bounded however busy the service is."""
        with self._transaction(write=False) as cur:
            cur.execute(self._sql(
                "SELECT film_id, type, value, ts FROM events WHERE ts >= ? "
                "ORDER BY ts DESC, seq DESC LIMIT ?"), (since, int(limit)))
            return [tuple(row) for row in cur.fetchall()]

    def count(self) -> int:
        with self._transaction(write=False) as cur:
            cur.execute("SELECT COUNT(*) FROM events")
            return int(cur.fetchone()[0])
