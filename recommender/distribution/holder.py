"""The engine a process serves, swapped in one assignment.

A request takes the engine once (:meth:`EngineHolder.engine`) and uses that object to the
end, so a swap never changes an index under a request in flight: it finishes on the old
one. Nothing here loads or checks a version; :class:`~.live.LiveIndex` does, and hands
the holder only what passed.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
from collections.abc import Callable

from recommender.distribution.refusal import Refusal
from recommender.errors import IndexUnavailable
from recommender.search.engine import Engine

log = logging.getLogger(__name__)


def trim_heap() -> None:
    """Give the memory a load freed back to the system (glibc's ``malloc_trim``).

    Loading a version parses files and builds an ONNX session; what those temporaries
    leave free stays in the process's heap, counted in its RSS: 30-44 MB a worker here
    (docs/performance.md, "Lean processes"). Elsewhere than glibc it does nothing.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class EngineHolder:
    """Holds the serving :class:`Engine`, or why there is none.

    Args:
        on_swap: told of each engine once it serves (the metrics).
    """

    def __init__(self, on_swap: Callable[[Engine], None] | None = None) -> None:
        self._engine: Engine | None = None
        self._on_swap = on_swap or (lambda engine: None)
        self.missing: Refusal | None = None
        """Why no engine is held (None: one is, or nothing was tried yet)."""
        self.table_thread: threading.Thread | None = None
        """The thread making the last swapped-in version's table, where one was needed."""

    def subscribe(self, on_swap: Callable[[Engine], None]) -> None:
        """Tell ``on_swap`` of each swap from now on, and of the engine held now."""
        self._on_swap = on_swap
        if self._engine is not None:
            on_swap(self._engine)

    def engine(self) -> Engine:
        """The engine to answer one request with.

        Raises:
            IndexUnavailable: none is held (the message says why).
        """
        engine = self._engine  # one read: a request keeps this engine to its end
        if engine is None:
            why = self.missing or Refusal("nothing loaded yet", "nothing loaded yet")
            raise IndexUnavailable(f"No index is loaded: {why.message}",
                                   public=f"No index is loaded: {why.public}")
        return engine

    @property
    def current(self) -> Engine | None:
        return self._engine

    def swap(self, engine: Engine, *, make_table: bool = True) -> None:
        """Make ``engine`` the one requests get; its "more like this" table, where the
        version has none saved yet, is made afterwards in a thread (meanwhile the pipeline
        answers, the same pages) unless ``make_table`` is False."""
        self.missing = None
        self._engine = engine  # one assignment: requests see the old or the new
        self._on_swap(engine)
        trim_heap()
        if make_table and engine.neighbours is None and engine.wants_table:
            # one process of those sharing the version computes it, the others wait on
            # its lock and map it
            self.table_thread = threading.Thread(
                target=self._make_table, args=(engine,), name="similar-table", daemon=True)
            self.table_thread.start()

    @staticmethod
    def _make_table(engine: Engine) -> None:
        try:
            engine.precompute_similar()
        except Exception:  # the pipeline keeps answering; say why there is no table
            log.exception("more-like-this table for version %s", engine.index.version)
        trim_heap()
