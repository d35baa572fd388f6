"""The collaborative model a process serves: ``<index>/models/current``, followed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from recommender.errors import RecommenderError
from recommender.viewers import collaborative
from recommender.viewers.collaborative import CollaborativeModel

log = logging.getLogger(__name__)


class ModelFollower:
    """Swaps in the model ``current`` points to when it moves and loads; a model that
    doesn't load is refused (logged once, kept in :attr:`refused`) and the one serving
    stays.

    Args:
        root: the index folder whose ``models/`` it follows.
        on_refused: told once per refused model (the reload metric).
    """

    def __init__(self, root: Path, on_refused: Callable[[], None] | None = None) -> None:
        self.root = root
        self._on_refused = on_refused or (lambda: None)
        self.model: CollaborativeModel | None = None
        """The model serving (None: none trained)."""
        self.refused: str | None = None
        """Why the newest model isn't the one serving, in public words (None: it is)."""

    def follow(self) -> bool:
        """Take the newest model if it moved and loads; True if a new one serves."""
        target = collaborative.current_path(self.root)
        if target is None or (self.model is not None and self.model.path == target):
            return False
        try:
            model = collaborative.load(target)
        except RecommenderError as exc:
            if self.refused != exc.public_message:
                log.error("model refused: %s", exc.message)
                self._on_refused()
            self.refused = exc.public_message  # shown on /ready: no server path
            return False
        self.model, self.refused = model, None
        log.info("collaborative model %s serving (%d films, %d events)", model.version,
                 len(model.film_ids), model.manifest["events"])
        return True
