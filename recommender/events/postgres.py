"""PostgreSQL (psycopg 3): one store for several replicas of the service.

A connection per thread of each worker; migrations take an advisory lock, so replicas
that start together apply each step once. The driver begins a transaction on the first
statement and the store commits it before answering.
"""

from __future__ import annotations

from typing import Any

from recommender.events.store import EventStore

MIGRATION_LOCK = 0x7265636F  # any constant shared by every replica ("reco")


class PostgresEventStore(EventStore):
    kind = "postgresql"
    marker = "%s"
    serial = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"

    def __init__(self, url: str, connect_timeout: float = 10.0) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        super().__init__()

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, connect_timeout=int(self.connect_timeout))

    def _lock_schema(self, cursor: Any) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))

    @property
    def location(self) -> str:
        """The URL without its password, for logs and /admin/status."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return urlunsplit(parts._replace(netloc=netloc))
        return self.url
