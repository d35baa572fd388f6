"""The catalog's changes, kept in the event database beside the events: every worker and
replica that shares the database reads the same changes, in the same order.

A change is one row: the film's id, the whole film after the change as JSON (NULL: it
was withdrawn) and its vector, so that the process that took the change embeds it and
no other does. Rows are numbered by the database (``seq``); each write takes the
catalog's lock for its transaction, so the numbers commit in order and a reader that
has seen number N has seen every change up to N.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from recommender.catalog.changes import Change
from recommender.catalog.films import Film
from recommender.storage.events import EventStore

CATALOG_LOCK = 0x63617461  # "cata": PostgreSQL's advisory lock for catalog writes
PAGE = 5_000
"""Changes read in one query; a reader catching up on more reads several pages."""


def _vector_text(vector: np.ndarray | None) -> str | None:
    if vector is None:
        return None
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def _vector_of(text: str | None) -> np.ndarray | None:
    if text is None:
        return None
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float32)


class CatalogLog:
    """The catalog changes of one event store (SQLite or PostgreSQL)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    @property
    def location(self) -> str:
        return self.store.location

    def record(self, films: Sequence[tuple[str, Film | None, np.ndarray | None]],
               model: str | None, expected: dict[str, int] | None = None
               ) -> tuple[list[Change], dict[str, bool]]:
        """Store each ``(id, film or None, vector)`` in one transaction, acknowledged once
        committed; returns them as stored, numbered, and for each id whether its newest
        change before these held a film (True), a withdrawal (False) or there was none
        (absent: the built version says), read under the same lock: of simultaneous
        first writes of one film, exactly one finds it absent.

        ``expected`` maps ids to the number of their newest change when the caller read it
        (0: none): if another writer changed one since, nothing is stored and
        :class:`ConcurrentChange` names it (the caller reads again and retries).
        """
        now = time.time()
        out: list[Change] = []
        with self.store.transaction() as cur:
            self._lock(cur)
            before = self._newest_state(cur, list(dict.fromkeys(f for f, _, _ in films)))
            for film_id, seq in (expected or {}).items():
                if before.get(film_id, (0, False))[0] != seq:
                    raise ConcurrentChange(film_id)
            for film_id, film, vector in films:
                cur.execute(self.store.sql(
                    "INSERT INTO catalog_changes (film_id, film, vector, model, at) "
                    "VALUES (?, ?, ?, ?, ?) RETURNING seq"),
                    (film_id, None if film is None else
                     json.dumps(film.to_dict(), ensure_ascii=False),
                     _vector_text(vector), model if vector is not None else None, now))
                seq = int(cur.fetchone()[0])
                out.append(Change(seq, film_id, film, vector, model if vector is not None
                                  else None, now))
        return out, {film_id: held for film_id, (_, held) in before.items()}

    def _lock(self, cursor: Any) -> None:
        if self.store.kind == "postgresql":  # SQLite's BEGIN IMMEDIATE already serialises
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (CATALOG_LOCK,))

    def _newest_state(self, cursor: Any, ids: list[str]) -> dict[str, tuple[int, bool]]:
        """Each id's newest change: its number, and whether it holds a film."""
        newest: dict[str, tuple[int, bool]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            cursor.execute(self.store.sql(
                f"SELECT c.film_id, c.seq, c.film IS NOT NULL FROM catalog_changes c WHERE "
                f"c.seq IN (SELECT MAX(seq) FROM catalog_changes WHERE film_id IN "
                f"({', '.join('?' * len(chunk))}) GROUP BY film_id)"), chunk)
            newest |= {row[0]: (int(row[1]), bool(row[2])) for row in cursor.fetchall()}
        return newest

    def latest(self) -> int:
        """The number of the newest change (0: none): what a follower polls."""
        with self.store.transaction(write=False) as cur:
            cur.execute("SELECT MAX(seq) FROM catalog_changes")
            row = cur.fetchone()
            return int(row[0]) if row and row[0] is not None else 0

    def since(self, after: int, limit: int = PAGE) -> list[Change]:
        """The changes numbered above ``after``, oldest first, at most ``limit``."""
        with self.store.transaction(write=False) as cur:
            cur.execute(self.store.sql(
                "SELECT seq, film_id, film, vector, model, at FROM catalog_changes "
                "WHERE seq > ? ORDER BY seq LIMIT ?"), (int(after), int(limit)))
            rows = cur.fetchall()
        return [Change(int(seq), film_id,
                       None if film is None else Film.from_dict(json.loads(film)),
                       _vector_of(vector), model, float(at))
                for seq, film_id, film, vector, model, at in rows]

    def newest_of(self, ids: Sequence[str], after: int = 0) -> dict[str, Change]:
        """Each of ``ids``' newest change numbered above ``after`` (those it has)."""
        found: dict[str, Change] = {}
        with self.store.transaction(write=False) as cur:
            numbers = {i: s for i, (s, _) in self._newest_state(cur, list(ids)).items()
                       if s > after}
        if numbers:
            wanted = set(numbers.values())
            for change in self._by_seq(sorted(wanted)):
                found[change.film_id] = change
        return found

    def _by_seq(self, seqs: list[int]) -> list[Change]:
        out: list[Change] = []
        for start in range(0, len(seqs), 500):
            chunk = seqs[start:start + 500]
            with self.store.transaction(write=False) as cur:
                cur.execute(self.store.sql(
                    "SELECT seq, film_id, film, vector, model, at FROM catalog_changes "
                    f"WHERE seq IN ({', '.join('?' * len(chunk))}) ORDER BY seq"), chunk)
                rows = cur.fetchall()
            out += [Change(int(seq), film_id,
                           None if film is None else Film.from_dict(json.loads(film)),
                           _vector_of(vector), model, float(at))
                    for seq, film_id, film, vector, model, at in rows]
        return out

    def overlay(self, after: int) -> tuple[dict[str, Change], int]:
        """Each film's newest change above ``after``, and the newest number read: the
        changes a version built through ``after`` doesn't hold yet."""
        newest: dict[str, Change] = {}
        while True:
            page = self.since(after)
            for change in page:
                newest[change.film_id] = change
            if len(page) < PAGE:
                return newest, after if not page else page[-1].seq
            after = page[-1].seq


class ConcurrentChange(Exception):
    """Another writer changed a film between a patch's read and its write."""

    def __init__(self, film_id: str) -> None:
        super().__init__(film_id)
        self.film_id = film_id
