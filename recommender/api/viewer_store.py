"""The viewers' side of an app: its event store and the collaborative model's trainer.

This module owns the resource whole, as flaskr's ``db.py`` owns its database:
:func:`init_app` attaches it to an app (and starts the scheduled training where asked),
:func:`personal` reaches it from a request, opening the store on first use. Routes that
never touch viewers never open a database.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask

from recommender.config import Settings
from recommender.distribution.live import LiveIndex
from recommender.errors import EventsUnavailable

if TYPE_CHECKING:  # imported where first used: routes without viewers never load it
    from recommender.viewers.personal import Personalizer

log = logging.getLogger(__name__)
EVENTS_CHECK_SECONDS = 1.0
"""How long /ready reuses its last look at the event store (it is polled often), and how
long a failed opening is not tried again."""


@dataclass
class ViewerStore:
    """The event store of one app, opened on first use and again after a failure."""

    settings: Settings
    live: LiveIndex
    personal: Personalizer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    failed_at: float = float("-inf")
    """When opening the event store last failed (tried again a second later)."""
    checked: tuple[float, dict[str, Any]] | None = None
    """/ready's last look at the event store: (when, what it said)."""

    def open(self) -> Personalizer:
        """The :class:`~recommender.viewers.personal.Personalizer`, its store opened (and
        migrated) on first use; 503 ``events_unavailable`` while the database can't be
        reached, so the query routes go on answering. A database that comes back is used
        without a restart."""
        if self.personal is not None:
            return self.personal
        unavailable = EventsUnavailable(
            "The event database can't be opened; viewer routes are unavailable for now "
            "(search and more-like-this go on). Try again shortly. Operators: the server's "
            "log says why; check RECOMMENDER_EVENTS_URL.", retry_after=2)
        # one thread tries to open it at a time, and at most once a second: the others are
        # answered at once rather than queued behind a database that doesn't answer
        if time.monotonic() - self.failed_at < EVENTS_CHECK_SECONDS or \
                not self.lock.acquire(timeout=0.05):
            raise unavailable
        try:
            if self.personal is None:
                self.personal = self._open_personal(unavailable)
        finally:
            self.lock.release()
        return self.personal

    def _open_personal(self, unavailable: EventsUnavailable) -> Personalizer:
        from recommender.storage import default_url, open_store
        from recommender.viewers.personal import open_personalizer

        config = self.settings
        url = config.events_url or default_url(config.index)
        try:
            # one thread of each worker's is always left for everything else
            store = open_store(url, timeout=store_timeout(config),
                               concurrency=max(config.threads - 1, 1))
        except (EventsUnavailable, OSError) as exc:  # the store logged the driver's words
            log.error("event store unavailable: %s", getattr(exc, "message", exc))
            self.failed_at = time.monotonic()
            raise unavailable from None
        live = self.live
        return open_personalizer(config, store=store, model=lambda: live.model)

    def status(self) -> dict[str, Any]:
        """Whether the event store works now (for /ready): ``{"status": "ok"}``,
        ``{"status": "read_only", ...}`` (it answers reads and refuses writes: events and
        impressions are refused) or ``{"status": "unavailable", "retry_after": N}``;
        looked at most once a second, written to at most every few seconds."""
        cached = self.checked
        if cached is not None and time.monotonic() - cached[0] < EVENTS_CHECK_SECONDS:
            return cached[1]
        try:
            state = self.open().store.health()
        except EventsUnavailable:
            state = "unavailable"
        status: dict[str, Any] = {"status": state}
        if state == "read_only":
            status["reason"] = ("the event database answers reads but refuses writes (a "
                                "read-only file or mount, a full disk): events and "
                                "impressions are refused until it takes writes again")
        if state != "ok":
            status["retry_after"] = 2
        self.checked = (time.monotonic(), status)
        return status


def store_timeout(config: Settings) -> float:
    """How long the event store may wait on its database in a request: well under the
    request budget, so that a locked file or a hung server is a 503 in time."""
    budget_seconds = config.request_budget_seconds or 3.0
    return max(min(budget_seconds * 0.6, 10.0), 0.1)


def init_app(app: Flask, settings: Settings, live: LiveIndex) -> ViewerStore:
    """The viewers' side of ``app`` (the factory keeps it in the app's services); with
    ``train_every_seconds``, the thread that retrains the model when it is due started."""
    viewers = ViewerStore(settings, live)
    if settings.train_every_seconds > 0 and not settings.index_url:
        threading.Thread(target=_train_when_due, args=(viewers,), name="model-training",
                         daemon=True).start()
    return viewers


def _train_when_due(viewers: ViewerStore) -> None:
    """Retrain when it is due (one worker of the machine at a time); the watcher then takes
    the model as usual."""
    from recommender.viewers import training

    config = viewers.settings
    while True:
        time.sleep(config.train_every_seconds / 4)
        try:
            store = viewers.open().store
            films = [f.id for f in viewers.live.engine().index.films]
            report = training.train_if_due(config, store, films)
            if report is not None:
                log.info("trained the collaborative model: %s (%s)",
                         report.path, report.why_not or f"{report.events} events")
        except Exception:  # a store down, no index yet: try again next time
            log.exception("scheduled training")
