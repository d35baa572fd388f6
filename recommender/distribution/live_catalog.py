"""The catalog's live changes, followed into what a process serves.

:class:`LiveCatalog` keeps, per process, the version being served (the *base*) and each
film's newest change above what that version holds, read from the shared database
(:class:`~recommender.storage.catalog_log.CatalogLog`). Whenever they change, and
whenever the clock crosses a film's availability window, it makes the index of the moment
(:func:`~recommender.index.overlay.apply_changes`) and swaps it in. Every worker polls the
database (``catalog_poll_seconds``); the one that took a change applies it before it
answers.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from recommender.catalog.changes import Change, next_boundary
from recommender.config import Settings
from recommender.distribution.holder import EngineHolder
from recommender.embedding.embedder import DEFAULT_EMBED_FIELDS, document_text
from recommender.errors import EventsUnavailable
from recommender.index.overlay import Terms, apply_changes, changes_through
from recommender.search.engine import Engine
from recommender.storage.catalog_log import PAGE, CatalogLog

log = logging.getLogger(__name__)


def embed_fields(engine: Engine) -> tuple[str, ...]:
    """What the served version embeds of a film (a change is embedded the same way)."""
    return tuple(engine.index.manifest.get("embedded_fields") or DEFAULT_EMBED_FIELDS)


class LiveCatalog:
    """The served version plus the catalog's changes since, for one process.

    Args:
        holder: where the engine of the moment is swapped in.
        on_applied: told of the seconds from each change's commit to its serving here.
    """

    def __init__(self, holder: EngineHolder, settings: Settings,
                 on_applied: Callable[[list[float]], None] = lambda lags: None) -> None:
        self.holder = holder
        self.settings = settings
        self.on_applied = on_applied
        self.base: Engine | None = None
        self.changes: dict[str, Change] = {}
        """Each film's newest change above what the base holds."""
        self.read_through = 0
        """The newest change number read from the database."""
        self.error: str | None = None
        """Why the database could not be read at the last try (None: it could)."""
        self.apply_error: str | None = None
        """Why the changes read could not be applied (tried again each poll; None: they
        were): what serves meanwhile is the state before them."""
        self._log: CatalogLog | None = None
        self._connect: Callable[[], CatalogLog] | None = None
        self._terms: Terms | None = None
        self._generation = 0
        self._boundary = float("inf")
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- what serves ---------------------------------------------------------------

    def serve(self, base: Engine, *, make_table: bool = True) -> None:
        """Serve ``base`` (a version just loaded) with the changes it doesn't hold yet."""
        with self._lock:
            if self.base is None or self.base.index is not base.index:
                self._terms = Terms(base.index)
            self.base = base
            through = changes_through(base.index.manifest)
            self.changes = {i: c for i, c in self.changes.items() if c.seq > through}
            if self._log is not None:
                try:  # the version may be older than what was read: read its changes whole
                    self.changes, self.read_through = self._log.overlay(through)
                    self.error = None
                except EventsUnavailable as exc:
                    self.error = exc.public_message
            try:
                self._swap(make_table)
                self.apply_error = None
            except Exception as exc:  # the version serves alone rather than not at all
                log.exception("applying the catalog's changes to version %s",
                              base.index.version)
                self.apply_error = f"{type(exc).__name__}: {exc}"
                self.holder.swap(base, make_table=make_table)

    def _swap(self, make_table: bool = True) -> None:
        base = self.base
        assert base is not None and self._terms is not None
        now = time.time()
        self._embed_missing(base)
        self._generation += 1
        index = apply_changes(base.index, self.changes, now, self._terms, self._generation)
        engine = base if index is base.index else Engine(index, base.embedder, base.settings)
        before, self._boundary = self._boundary, next_boundary(
            [*base.index.films, *(c.film for c in self.changes.values() if c.film)], now)
        if self._boundary < before:  # the follower sleeps past it: told to look again
            self._wake.set()
        self.holder.swap(engine, make_table=make_table and engine is base)

    def _embed_missing(self, base: Engine) -> None:
        """Changes without a vector of the base's model (made while another version
        served): embedded here, once per process, until the next build folds them in."""
        missing = [c for c in self.changes.values() if c.film is not None and (
            c.vector is None or c.model != base.index.model
            or c.vector.shape != (base.index.dimension,))]
        if not missing:
            return
        fields = embed_fields(base)
        vectors = base.embedder.encode([document_text(c.film, fields) for c in missing
                                        if c.film is not None])
        changes = dict(self.changes)
        for change, vector in zip(missing, vectors, strict=True):
            changes[change.film_id] = Change(change.seq, change.film_id, change.film,
                                             np.asarray(vector, dtype=np.float32),
                                             base.index.model, change.at)
        self.changes = changes

    # -- following -------------------------------------------------------------------

    def follow(self, connect: Callable[[], CatalogLog], interval: float) -> None:
        """Read the changes now (so that a process starts with them), then every
        ``interval`` seconds in a thread."""
        self._connect = connect
        self.poll()
        if interval > 0 and self._thread is None:
            # the thread holds the catalog weakly: an app dropped (a test's) ends it
            self._thread = threading.Thread(target=_follow, args=(weakref.ref(self), interval),
                                            name="catalog-follower", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def connected(self) -> CatalogLog:
        """The change log, opened on first use (raises EventsUnavailable while it can't be)."""
        if self._log is None:
            if self._connect is None:
                raise EventsUnavailable("no catalog database is configured")
            self._log = self._connect()
        return self._log

    def holds(self, film_id: str) -> bool:
        """Whether ``film_id`` is a film of this catalog, served now or not (withdrawn, out
        of its window): an event naming it is history to keep, not a mistake."""
        base = self.base
        return film_id in self.changes or (base is not None and film_id in base.index.row_of)

    def warm(self) -> None:
        """Count the served version's films' words once, off the request path (the
        follower's thread), so that a change costs only its own films' words."""
        with self._lock:  # the counts' vocabulary is shared: one thread counts at a time
            terms, base = self._terms, self.base
            if terms is not None and base is not None and not terms.warmed:
                terms.warm(base.index.films)

    def poll(self) -> bool:
        """Take the changes committed since the last look, and the clock's crossing of a
        window's edge; returns whether what serves changed."""
        with self._lock:
            if self.base is None:
                return False
            try:
                changelog = self.connected()
                new = self._read_new(changelog) if changelog.latest() > self.read_through \
                    else []
                self.error = None
            except EventsUnavailable as exc:
                self.error = exc.public_message
                new = []
            if not new and time.time() < self._boundary and not self.apply_error:
                return False
            try:
                self._swap()
                self.apply_error = None
            except Exception as exc:  # what serves stays; said where operators look
                log.exception("applying the catalog's changes")
                self.apply_error = f"{type(exc).__name__}: {exc}"
                return False
            if new:
                now = time.time()
                self.on_applied([max(now - c.at, 0.0) for c in new])
            return True

    def _read_new(self, changelog: CatalogLog) -> list[Change]:
        """The changes committed since the last read, taken into :attr:`changes` (a new
        dict, swapped in whole: /ready reads it without the lock)."""
        through = changes_through(self.base.index.manifest) if self.base else 0
        changes = dict(self.changes)
        fresh: list[Change] = []
        while True:
            page = changelog.since(self.read_through)
            for change in page:
                if change.seq > through:
                    changes[change.film_id] = change
            fresh += page
            if page:
                self.read_through = page[-1].seq
            if len(page) < PAGE:
                self.changes = changes
                return fresh

    # -- what operators read --------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The overlay as /ready and /admin/status show it."""
        engine = self.holder.current
        overlay = engine.index.overlay if engine is not None else None
        changes = list(self.changes.values())  # one read: the follower swaps it whole
        newest = max((c.at for c in changes), default=None)
        return {
            "changes": len(changes),
            "added": (overlay or {}).get("added", 0),
            "changed": (overlay or {}).get("changed", 0),
            "withdrawn": (overlay or {}).get("withdrawn", 0),
            "hidden": (overlay or {}).get("hidden", 0),
            "read_through": self.read_through,
            "version_through": changes_through(self.base.index.manifest) if self.base else 0,
            "newest_change_at": _iso(newest),
            "next_window_change_at": _iso(self._boundary),
            **({"apply_error": self.apply_error} if self.apply_error else {}),
            # ok / read_only (its probe write refused) / unavailable, as the events' store
            "database": "unavailable" if self.error else
            (self._log.store.health() if self._log is not None else "not connected"),
        }


def _follow(ref: weakref.ref[LiveCatalog], interval: float) -> None:
    while True:
        catalog = ref()
        if catalog is None:
            return
        wake, stop = catalog._wake, catalog._stop
        # a window's edge is a moment of its own: woken for it, not found by the next poll
        until_edge = catalog._boundary - time.time()
        del catalog  # not held while waiting
        # (an edge already past is the poll's: one that can't be applied isn't retried
        # in a spin, but each interval, as every other change)
        wake.wait(min(interval, until_edge + 0.001) if until_edge > 0 else interval)
        wake.clear()
        catalog = ref()
        if catalog is None or stop.is_set():
            return
        try:
            catalog.warm()
            catalog.poll()
        except Exception:  # never let the follower die silently
            log.exception("following the catalog's changes")
        del catalog


def _iso(ts: float | None) -> str | None:
    if ts is None or not np.isfinite(ts):
        return None
    from recommender.storage.events import iso_time

    return iso_time(ts)
