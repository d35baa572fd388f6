"""Following the pointer: a thread that reloads when ``current`` moves."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from recommender.errors import IndexUnavailable

log = logging.getLogger(__name__)
MAX_RETRY_SECONDS = 60.0
"""Longest wait between two tries of a refused reload."""


class VersionWatcher:
    """Polls ``pointer`` every ``interval`` seconds and calls ``reload`` when it moves.

    A move is acted on after a random wait of up to ``jitter`` seconds, so the workers of a
    fleet don't all load at once; a refused reload (``reload`` raises
    :class:`IndexUnavailable`) is tried again with backoff (``interval`` doubling to at most
    a minute) until it passes or the pointer moves on.

    Args:
        pointer: where ``current`` points now (None: nowhere readable).
        reload: swap to it; raises IndexUnavailable where refused.
        each_poll: what else runs every poll, before the pointer is read (following the
            store and the collaborative model).
        seen: where the pointer was when the serving version was chosen: a move between
            loading and watching is not missed.
    """

    def __init__(self, pointer: Callable[[], Path | None], reload: Callable[[], object], *,
                 each_poll: Callable[[], None], interval: float, jitter: float,
                 seen: Path | None) -> None:
        self._pointer, self._reload, self._each_poll = pointer, reload, each_poll
        self.interval, self.jitter = interval, jitter
        self._seen = seen
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="index-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        seen = self._seen if self._seen is not None else self._pointer()
        retry_at, backoff = None, self.interval
        while not self._stop.wait(self.interval):
            try:
                self._each_poll()
            except Exception:  # never let the watcher die silently
                log.exception("index watcher: following")
            now = self._pointer()
            if now != seen:  # a move of the pointer: act on it once, after a jitter
                seen, backoff = now, self.interval
                if self._stop.wait(random.uniform(0, self.jitter)):
                    return
            elif retry_at is None or time.monotonic() < retry_at:
                continue
            try:
                self._reload()
                retry_at = None
            except IndexUnavailable:  # logged; try again later, backing off
                retry_at = time.monotonic() + backoff
                backoff = min(2 * backoff, MAX_RETRY_SECONDS)
            except Exception:  # never let the watcher die silently
                log.exception("index watcher")
                retry_at = time.monotonic() + backoff
