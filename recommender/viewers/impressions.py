"""Impressions written off the request path: a bounded queue, one writer thread, batches.

An answer hands its impression to :meth:`ImpressionRecorder.offer`, which never blocks:
when the queue is full (the database slow or down for long) the impression is dropped
and counted, and the answer goes out as fast as ever. The writer thread takes up to
``batch`` impressions at a time (or what came within ``flush_seconds``) and stores them
in one transaction; a batch the database refuses is dropped and counted too, never
retried into an unbounded backlog. Events are never held or dropped by any of this: they
are written by their own request, as before. Once an hour the writer forgets the
impressions older than the retention period.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable

from recommender.errors import EventsUnavailable
from recommender.storage.impressions import Impression, ImpressionLog

log = logging.getLogger(__name__)
PURGE_EVERY_SECONDS = 3600.0
RECENT = 10_000
"""Impressions of this process remembered in memory, to attribute an event that comes
back before its impression is written (for the live counters; reports join in SQL)."""


class ImpressionRecorder:
    """One process's impressions on their way to the database."""

    def __init__(self, log_of: Callable[[], ImpressionLog], queue_size: int, batch: int,
                 flush_seconds: float, retention_days: float,
                 on_written: Callable[[list[Impression]], None] = lambda b: None,
                 on_dropped: Callable[[str, int], None] = lambda why, n: None) -> None:
        self.log_of = log_of
        """The impression log of the event store (opened on first use; may raise)."""
        self.queue: queue.Queue[Impression] = queue.Queue(maxsize=max(queue_size, 1))
        self.batch = max(batch, 1)
        self.flush_seconds = flush_seconds
        self.retention_days = retention_days
        self.on_written = on_written
        self.on_dropped = on_dropped
        self.dropped = {"queue_full": 0, "database": 0}
        self.written = 0
        self._recent: OrderedDict[str, Impression] = OrderedDict()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._purged_at = float("-inf")
        self._closing = threading.Event()

    def offer(self, impression: Impression) -> bool:
        """Queue ``impression`` for writing; False (dropped, counted) when the queue is
        full. Never blocks."""
        with self._lock:
            self._recent[impression.recommendation_id] = impression
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        try:
            self.queue.put_nowait(impression)
        except queue.Full:
            self._drop("queue_full", 1)
            return False
        self._start()
        return True

    def recent(self, recommendation_id: str) -> Impression | None:
        with self._lock:
            return self._recent.get(recommendation_id)

    def status(self) -> dict[str, object]:
        """What /admin/status says of this process's impressions."""
        return {"queued": self.queue.qsize(), "capacity": self.queue.maxsize,
                "written": self.written, "dropped": dict(self.dropped)}

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written or dropped (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def close(self, timeout: float = 5.0) -> bool:
        """Write what is queued now, without waiting for a batch to fill (a process on its
        way out: a SIGHUP, SIGTERM or recycled worker loses none of its impressions)."""
        self._closing.set()
        if not self.queue.empty():
            self._start()  # the writer may have ended, idle, just before the last offer
        return self.flush(timeout)

    # -- inside ------------------------------------------------------------------------

    def _drop(self, why: str, n: int) -> None:
        with self._lock:
            self.dropped[why] = self.dropped.get(why, 0) + n
        self.on_dropped(why, n)

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                # the thread holds the recorder weakly: a recorder nobody uses any more
                # (an app of a test, gone) lets its thread end
                self._thread = threading.Thread(target=_run, args=(weakref.ref(self),),
                                                name="impressions", daemon=True)
                self._thread.start()

    def _write_some(self) -> bool:
        """Write one batch (waiting up to a second for the first impression); False when
        there was nothing to write."""
        try:
            first = self.queue.get(timeout=1.0)
        except queue.Empty:
            return False
        batch = [first]
        deadline = time.monotonic() + self.flush_seconds
        while len(batch) < self.batch:
            left = deadline - time.monotonic()
            try:
                if left > 0 and not self._closing.is_set():
                    # in short waits, so that closing doesn't wait a whole flush interval
                    batch.append(self.queue.get(timeout=min(left, 0.1)))
                else:
                    batch.append(self.queue.get_nowait())
            except queue.Empty:
                if left <= 0 or self._closing.is_set():
                    break
        try:
            impressions = self.log_of()
            impressions.write(batch)
            self.written += len(batch)
            self.on_written(batch)
            self._purge(impressions)
        except (EventsUnavailable, OSError) as exc:
            log.warning("impressions: %d dropped, the event database refused them (%s)",
                        len(batch), getattr(exc, "message", exc))
            self._drop("database", len(batch))
        except Exception:  # never let the writer die: the next batch may go through
            log.exception("impressions: %d dropped", len(batch))
            self._drop("database", len(batch))
        finally:
            for _ in batch:
                self.queue.task_done()
        return True

    def _purge(self, impressions: ImpressionLog) -> None:
        now = time.time()
        if now - self._purged_at < PURGE_EVERY_SECONDS:
            return
        self._purged_at = now
        purged = impressions.purge(now - self.retention_days * 86_400.0)
        if purged:
            log.info("impressions: %d older than %g days forgotten", purged,
                     self.retention_days)


def _run(ref: weakref.ReferenceType[ImpressionRecorder]) -> None:
    idle = 0
    while True:
        recorder = ref()
        if recorder is None:
            return
        idle = 0 if recorder._write_some() else idle + 1
        # half a minute with nothing: end (the next offer starts another)
        done = idle > 30 and recorder.queue.empty()
        del recorder
        if done:
            return
