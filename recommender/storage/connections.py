"""A database's connections as the event store holds them: one per thread, replaced
after any failure, tried again with backoff, at most so many threads waiting on the
database at once, and every driver error turned into a 503 that names no host.

:class:`~recommender.storage.events.EventStore` adds the schema and the queries;
the backends (:mod:`.sqlite`, :mod:`.postgres`) say how to connect.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from recommender.errors import EventsBusy, EventsUnavailable

log = logging.getLogger("recommender.storage.events")

RETRY_AFTER_SECONDS = 2
"""What a 503 ``events_unavailable`` tells a client to wait before trying again."""

RECONNECT_BACKOFF_SECONDS = (0.05, 0.5)
"""After a failed connection, the store waits this long (doubling from the first to the
second figure) before it connects again; meanwhile it answers 503 at once. Short, so
that a database back from a restart is used within half a second."""

GATE_WAIT_SECONDS = 0.05
"""How long a request waits for one of the threads allowed on the database: short, so
that while the database hangs the refused requests free their threads at once."""


class Connections:
    """A connection per thread to one database; thread-safe."""

    marker = "?"
    kind = ""
    driver_errors: tuple[type[BaseException], ...] = (OSError,)
    """What the driver raises when the database fails (down, locked, full, a connection
    broken): each becomes :class:`EventsUnavailable`, and the connection is dropped."""

    def __init__(self, concurrency: int = 0) -> None:
        self._gate = threading.BoundedSemaphore(concurrency) if concurrency > 0 else None
        """At most this many of a process's threads wait on the database at once (0: no
        limit): a locked or hung database then holds only some of a worker's threads,
        and the others go on answering /ready and the routes that need no events."""
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._generation = 0
        """Bumped by every failure: each thread's connection from before it is replaced on
        its next use, so one failure heals every thread (a SQLite file opened while it
        was read-only stays read-only on that connection for ever, and each thread
        learnt that by failing once more)."""
        self._reconnect_at = float("-inf")
        self._backoff = 0.0

    def _connect(self) -> Any:
        raise NotImplementedError

    @property
    def location(self) -> str:
        """Where the database is, without a password: for logs and /admin/status."""
        raise NotImplementedError

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "generation", 0) != self._generation:
            self._drop(conn)  # opened before a failure: maybe broken, maybe read-only
            conn = None
        if conn is None:
            if time.monotonic() < self._reconnect_at:
                raise EventsUnavailable(
                    "The event database failed a moment ago; viewer routes are unavailable "
                    "for now (search and more-like-this go on). Try again shortly.",
                    retry_after=RETRY_AFTER_SECONDS)
            generation = self._generation
            try:
                conn = self._connect()
            except self.driver_errors:
                low, high = RECONNECT_BACKOFF_SECONDS
                self._backoff = min(max(self._backoff * 2, low), high)
                self._reconnect_at = time.monotonic() + self._backoff
                raise
            self._backoff = 0.0
            self._local.conn, self._local.generation = conn, generation
            with self._lock:
                self._connections.append(conn)
        return conn

    def _drop(self, conn: Any) -> None:
        """Forget this thread's connection (the next use opens a fresh one): after a
        failure it may be broken (a database restarted), and a broken one never heals."""
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
        with contextlib.suppress(Exception):  # already broken: nothing left to close
            conn.close()

    def _unavailable(self, exc: BaseException) -> EventsUnavailable:
        """The public error for a failing database: which dependency, and when to retry;
        the driver's words (hosts, paths) go to the log only."""
        log.error("event store (%s) failed: %s: %s", self.kind, type(exc).__name__, exc)
        return EventsUnavailable(
            "The event database is not answering; viewer routes are unavailable for now "
            "(search and more-like-this go on). Try again shortly. Operators: the "
            "server's log says why; check RECOMMENDER_EVENTS_URL and the database.",
            retry_after=RETRY_AFTER_SECONDS)

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Any]:
        """A cursor in a transaction, committed on leaving (rolled back on an error):
        a write is acknowledged only once it is committed. A driver error is
        :class:`EventsUnavailable`, its connection dropped."""
        if self._gate is not None and not self._gate.acquire(timeout=GATE_WAIT_SECONDS):
            log.warning("event store (%s): every thread allowed is waiting on it", self.kind)
            raise EventsBusy(
                "This server is busy: every thread it allows on the event database "
                "(RECOMMENDER_THREADS - 1 per worker) is waiting on it. Try again shortly.",
                retry_after=RETRY_AFTER_SECONDS)
        try:
            try:
                conn = self._connection()
                cursor = conn.cursor()
            except self.driver_errors as exc:
                raise self._unavailable(exc) from None
            try:
                self._begin(cursor, write)
                yield cursor
                conn.commit()
            except self.driver_errors as exc:
                self._drop(conn)
                self._generation += 1  # every thread's connection is replaced
                raise self._unavailable(exc) from None
            except BaseException:
                try:
                    conn.rollback()
                except self.driver_errors:
                    self._drop(conn)
                raise
            finally:
                with contextlib.suppress(Exception):  # a dropped connection's cursor is gone
                    cursor.close()
        finally:
            if self._gate is not None:
                self._gate.release()

    def ping(self) -> None:
        """Raise :class:`EventsUnavailable` unless the database answers a read now."""
        with self.transaction(write=False) as cur:
            cur.execute("SELECT 1")
            cur.fetchone()

    def _begin(self, cursor: Any, write: bool) -> None:
        """Start the transaction, where the driver doesn't on the first statement."""

    def _lock_schema(self, cursor: Any) -> None:
        """Serialise migrations between processes that start at once, where the
        transaction itself doesn't (PostgreSQL: an advisory lock)."""

    def sql(self, text: str) -> str:
        return text.replace("?", self.marker)

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(Exception):  # on the way out: nothing left to do
                    conn.close()
            self._connections.clear()
        self._local = threading.local()
