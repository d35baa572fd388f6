"""PostgreSQL (psycopg 3): one store for several replicas of the service.

A connection per thread of each worker; migrations take an advisory lock, so replicas
that start together apply each step once. The driver begins a transaction on the first
statement and the store commits it before answering.
"""

from __future__ import annotations

from typing import Any

from recommender.storage.events import EventStore

MIGRATION_LOCK = 0x7265636F  # any constant shared by every replica ("reco")


class PostgresEventStore(EventStore):
    kind = "postgresql"
    marker = "%s"
    serial = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"

    def __init__(self, url: str, timeout: float = 10.0, concurrency: int = 0) -> None:
        import psycopg

        self.url = url
        self.timeout = timeout
        self.driver_errors = (psycopg.Error, OSError)
        super().__init__(concurrency)

    def _connect(self) -> Any:
        import psycopg

        # connecting, waiting on a lock and any one statement are each bounded by the
        # timeout (the server's: under its request budget), so a database that hangs is
        # a 503 in time, not a thread held
        milliseconds = max(int(self.timeout * 1000), 1)
        # UTF-8 whatever the database's encoding: in a SQL_ASCII one (initdb in a C locale,
        # a minimal image's default) the driver would hand back text as bytes otherwise
        return psycopg.connect(self.url, connect_timeout=max(int(self.timeout + 0.999), 1),
                               client_encoding="utf8",
                               options=f"-c statement_timeout={milliseconds} "
                                       f"-c lock_timeout={milliseconds}")

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
