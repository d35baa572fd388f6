"""The service's database: one schema and its migrations, for SQLite and PostgreSQL.

The backends differ in how they connect and how they spell a parameter
(:mod:`recommender.storage.sqlite`, :mod:`recommender.storage.postgres`); the schema, its
migrations and every table's queries are shared, so the same tests run against both
(tests/integration/test_events.py).
"""

from __future__ import annotations

import contextlib
import logging
import time

from recommender.errors import EventsBusy, EventsUnavailable
from recommender.storage.connections import Connections

log = logging.getLogger(__name__)
PROBE_SECONDS = 5.0
"""How long :meth:`EventStore.health` reuses its last write probe (/ready is polled often;
each probe is one committed row)."""

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
    (2, "catalog changes made while serving", (
        """CREATE TABLE catalog_changes (
            seq {serial},
            film_id TEXT NOT NULL,
            film TEXT,
            vector TEXT,
            model TEXT,
            at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX catalog_changes_by_film ON catalog_changes (film_id, seq)",
    )),
    (3, "impressions: what each answer showed, film by film", (
        """CREATE TABLE impressions (
            recommendation_id TEXT PRIMARY KEY,
            surface TEXT NOT NULL,
            user_id TEXT,
            experiment TEXT,
            variant TEXT,
            index_version TEXT,
            model_version TEXT,
            films INTEGER NOT NULL,
            ts DOUBLE PRECISION NOT NULL,
            day INTEGER NOT NULL
        )""",
        "CREATE INDEX impressions_by_time ON impressions (ts)",
        "CREATE INDEX impressions_by_user ON impressions (user_id)",
        """CREATE TABLE impression_films (
            recommendation_id TEXT NOT NULL,
            film_id TEXT NOT NULL,
            rank INTEGER NOT NULL,
            PRIMARY KEY (recommendation_id, film_id)
        )""",
        "CREATE INDEX events_by_recommendation ON events (recommendation_id)",
    )),
    (4, "a row /ready writes, to tell a database that reads but can't write", (
        "CREATE TABLE write_probe (id INTEGER PRIMARY KEY, at DOUBLE PRECISION NOT NULL)",
        "INSERT INTO write_probe VALUES (1, 0)",
    )),
    (5, "viewers' context: their country and age limit (a kids profile)", (
        """CREATE TABLE viewers (
            user_id TEXT PRIMARY KEY,
            country TEXT,
            max_age INTEGER,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
    )),
    (6, "the rule that placed a film shown (a promotion or a pin); null: organic", (
        "ALTER TABLE impression_films ADD COLUMN promoted TEXT",
    )),
)
"""The schema, as numbered steps. ``{serial}`` is the backend's auto-numbered key: the
order events arrived in, which breaks ties between events of the same time. A store
applies the steps its database lacks when it opens, in one transaction, and records them
in ``schema_migrations``; a database newer than this code is refused, not written to."""


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer release of this service."""


def _too_new(version: int) -> SchemaTooNew:
    return SchemaTooNew(f"the event database is at schema version {version}; this release "
                        f"knows up to {MIGRATIONS[-1][0]}. Upgrade the service.")


class Database(Connections):
    """The service's database: its schema and migrations, its health; thread-safe (a
    connection per thread, :class:`~recommender.storage.connections.Connections`). Its
    tables' queries are their own modules' (:mod:`recommender.storage.events`,
    :mod:`~recommender.storage.impressions`, :mod:`~recommender.storage.catalog_log`),
    through :meth:`transaction` and :meth:`sql`.

    A backend gives :meth:`_connect` and the parameter marker; everything else is shared.
    """

    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self, concurrency: int = 0) -> None:
        super().__init__(concurrency)
        self._health: tuple[float, str] | None = None
        try:
            self.migrate()
        except BaseException:
            self.close()  # a refused database leaves no connection behind
            raise

    def health(self) -> str:
        """``"ok"``, ``"read_only"`` (it answers reads but refuses writes: a read-only file
        or mount, a full disk) or ``"unavailable"``. A read each time (a database gone is
        seen at once), and a committed write of one row at most every
        :data:`PROBE_SECONDS` while it works (each second while it doesn't). A busy server
        is not a broken database: busy, the last answer stands."""
        cached = self._health
        try:
            self.ping()
        except EventsBusy:
            return cached[1] if cached is not None else "ok"
        except EventsUnavailable:
            self._health = (time.monotonic(), "unavailable")
            return "unavailable"
        if cached is not None and cached[1] != "unavailable" and \
                time.monotonic() - cached[0] < (PROBE_SECONDS if cached[1] == "ok" else 1.0):
            return cached[1]
        try:
            with self.transaction() as cur:
                cur.execute(self.sql("UPDATE write_probe SET at = ? WHERE id = 1"),
                            (time.time(),))
            state = "ok"
        except EventsBusy:
            return cached[1] if cached is not None else "ok"
        except EventsUnavailable:
            state = "read_only"
        self._health = (time.monotonic(), state)
        return state

    # -- schema --------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply the migrations this database lacks, all in one transaction (so a process
        killed half-way leaves the schema as it was); returns the steps applied. Two
        processes starting at once take turns (a lock), so each step runs once."""
        known = self._applied_version()
        if known is not None and known > MIGRATIONS[-1][0]:
            raise _too_new(known)
        if known == MIGRATIONS[-1][0]:
            return []  # read only: opening never waits for another process's write lock
        applied = []
        with self.transaction() as cur:
            self._lock_schema(cur)
            cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                        "version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
                        "applied_at DOUBLE PRECISION NOT NULL)")
            cur.execute("SELECT version FROM schema_migrations")
            done = {row[0] for row in cur.fetchall()}
            if max(done, default=0) > MIGRATIONS[-1][0]:
                raise _too_new(max(done))
            for version, description, statements in MIGRATIONS:
                if version in done:
                    continue
                for statement in statements:
                    cur.execute(statement.replace("{serial}", self.serial))
                cur.execute(self.sql("INSERT INTO schema_migrations VALUES (?, ?, ?)"),
                            (version, description, time.time()))
                applied.append(version)
        return applied

    def _applied_version(self) -> int | None:
        """The newest migration applied, read without a write lock; None where there is
        no schema yet (or it can't be read: the migrating transaction then says why)."""
        try:
            conn = self._connection()
        except self.driver_errors:
            return None
        cursor = conn.cursor()
        try:
            self._begin(cursor, False)
            cursor.execute("SELECT MAX(version) FROM schema_migrations")
            row = cursor.fetchone()
            conn.commit()
            return int(row[0]) if row and row[0] is not None else None
        except self.driver_errors:  # no such table yet: a fresh database
            try:
                conn.rollback()
            except self.driver_errors:
                self._drop(conn)
            return None
        finally:
            with contextlib.suppress(Exception):
                cursor.close()

    def schema_version(self) -> int:
        with self.transaction(write=False) as cur:
            cur.execute("SELECT MAX(version) FROM schema_migrations")
            return int(cur.fetchone()[0] or 0)

    # -- writing -------------------------------------------------------------------
