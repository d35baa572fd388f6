"""SQLite: the embedded default, a file beside the index folder, created on first use.

WAL mode, so readers never wait for the writer and a worker reading a viewer's history
doesn't block another storing events; ``synchronous=FULL``, so a committed event is on
disk before the answer leaves (a power cut loses none either). Writes take the lock at
``BEGIN IMMEDIATE``, so two workers writing at once wait for each other (up to the busy
timeout) instead of failing half-way.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from recommender.storage.events import EventStore

BUSY_TIMEOUT_SECONDS = 10.0
"""How long a write waits for another writer's lock, where the caller doesn't say (the
server says: less than its request budget, so a locked file is a 503 in time)."""


class SqliteEventStore(EventStore):
    kind = "sqlite"
    driver_errors = (sqlite3.Error, OSError)

    def __init__(self, path: str | Path, timeout: float = BUSY_TIMEOUT_SECONDS,
                 concurrency: int = 0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(concurrency)

    def _connect(self) -> Any:
        # isolation_level=None: transactions are begun here (_begin), explicitly
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                               check_same_thread=True)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _begin(self, cursor: Any, write: bool) -> None:
        cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    @property
    def location(self) -> str:
        return f"sqlite:///{self.path}"
