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

from recommender.events.store import EventStore

BUSY_TIMEOUT_SECONDS = 10.0


class SqliteEventStore(EventStore):
    kind = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__()

    def _connect(self) -> Any:
        # isolation_level=None: transactions are begun here (_begin), explicitly
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                               check_same_thread=True)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _begin(self, cursor: Any, write: bool) -> None:
        cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    @property
    def location(self) -> str:
        return f"sqlite:///{self.path}"
