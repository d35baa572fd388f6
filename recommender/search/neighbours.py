"""Every film's "more like this" list, computed once when a server process loads an index.

A streaming service's most common question is "films like this one", asked without
filters. Answering it from a table turns ~0.5 ms of ranking into a slice of arrays
(docs/performance.md). The table holds what the engine's own pipeline answered for
each film, so a page from it is the page the pipeline would give; questions the
table can't answer (filters, a threshold, diversity, explanations, another mode, a
page deeper than the table) go down the pipeline as before.

It is computed once per version and setting (:func:`open_or_compute`): the first
process that loads a version computes it, under a lock, and saves it into the version
folder; every other process, and every later start, maps those files read-only, so
the workers share one copy (28 bytes per film and entry, scores kept as float64 so
that they print as the pipeline's do: 22 MB for 7,787 films at depth 99). It is made
only for catalogs up to a size (``Settings.similar_table_max_films``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recommender import __version__
from recommender.catalog.films import Film
from recommender.config import fusion_weight
from recommender.files import staged_folder, write_file
from recommender.search.query import QueryOptions, ScoredFilm

log = logging.getLogger(__name__)

TABLE_PREFIX = "neighbours-"
"""In a version folder: ``neighbours-<key>/``, one table per setting that shapes it."""
TABLE_FORMAT = 1

RankOne = Callable[[int, QueryOptions], tuple[list[ScoredFilm], bool]]
"""The pipeline for one film: (row, options) -> (page, whether more follow)."""


class NeighbourTable:
    """Each film's best ``depth`` films in one mode, as arrays (row -1: no entry)."""

    def __init__(self, films: Sequence[Film], mode: str, rows: np.ndarray, scores: np.ndarray,
                 semantic: np.ndarray, lexical: np.ndarray, lengths: np.ndarray,
                 more: np.ndarray) -> None:
        self.films = films
        self.mode = mode
        self.rows, self.scores, self.semantic, self.lexical = rows, scores, semantic, lexical
        self.lengths, self.more = lengths, more

    @property
    def depth(self) -> int:
        return int(self.rows.shape[1])

    @property
    def complete(self) -> bool:
        """Whether each list holds every other film, so that any page is in it."""
        return self.depth >= len(self.films) - 1

    @classmethod
    def compute(cls, films: Sequence[Film], row_of: dict[str, int], rank_one: RankOne,
                mode: str, depth: int) -> NeighbourTable:
        """Ask ``rank_one`` for each film's first ``depth`` films and keep the answers."""
        n = len(films)
        depth = max(1, min(depth, n - 1))
        rows = np.full((n, depth), -1, dtype=np.int32)
        scores, semantic, lexical = (np.full((n, depth), np.nan)
                                     for _ in range(3))
        lengths = np.zeros(n, dtype=np.int32)
        more = np.zeros(n, dtype=bool)
        options = QueryOptions(k=depth, mode=mode)
        started = time.perf_counter()
        for row in range(n):
            hits, more[row] = rank_one(row, options)
            lengths[row] = len(hits)
            for j, hit in enumerate(hits):
                rows[row, j] = row_of[hit.film.id]
                scores[row, j] = hit.score
                semantic[row, j] = np.nan if hit.semantic is None else hit.semantic
                lexical[row, j] = np.nan if hit.lexical is None else hit.lexical
        log.info("more-like-this table: %d films x %d, mode %s, in %.1f s", n, depth, mode,
                 time.perf_counter() - started)
        return cls(films, mode, rows, scores, semantic, lexical, lengths, more)

    def answers(self, options: QueryOptions) -> bool:
        """Whether a page for ``options`` can come from the table."""
        return (options.mode == self.mode and not options.filtered
                and options.min_score is None and options.diversity == 0
                and not options.explain
                and (options.offset + options.k <= self.depth or self.complete))

    def page(self, row: int, options: QueryOptions) -> tuple[list[ScoredFilm], bool]:
        """The page ``options`` asks for (check :meth:`answers` first)."""
        start, end = options.offset, options.offset + options.k
        length = int(self.lengths[row])
        hits = [ScoredFilm(self.films[self.rows[row, j]], float(self.scores[row, j]),
                           semantic=_optional(self.semantic[row, j]),
                           lexical=_optional(self.lexical[row, j]))
                for j in range(start, min(end, length))]
        more = end < length or (end == length and bool(self.more[row]))
        return hits, more


    # -- one table per version, on disk -------------------------------------------

    _ARRAYS = ("rows", "scores", "semantic", "lexical", "lengths", "more")

    def save(self, folder: Path) -> None:
        """Write the table as ``.npy`` files into ``folder``, whole or not at all (a hidden
        temporary folder renamed into place)."""
        # the temporary name is the one a killed process's clean-up looks for
        with staged_folder(folder, folder.with_name(f".{folder.name}.{os.getpid()}.tmp")) \
                as tmp:
            for name in self._ARRAYS:
                with open(tmp / f"{name}.npy", "wb") as fh:
                    np.save(fh, getattr(self, name))
            write_file(tmp / "table.json", json.dumps({"mode": self.mode}).encode())

    @classmethod
    def open(cls, folder: Path, films: Sequence[Film]) -> NeighbourTable:
        """Map a saved table read-only: every process that opens it shares one copy."""
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in cls._ARRAYS}
        mode = json.loads((folder / "table.json").read_text(encoding="utf-8"))["mode"]
        if arrays["rows"].shape[0] != len(films):
            raise ValueError(f"{folder} holds {arrays['rows'].shape[0]} films, not {len(films)}")
        return cls(films, mode, **arrays)


def table_spec(films: int, settings: Any, hybrid_candidates: int) -> tuple[str, int] | None:
    """(key, depth) of the table a catalog of ``films`` gets under ``settings``; None: none.

    A page reaching past ``hybrid_candidates`` fuses deeper lists (other scores), so the
    table stops one short of it: every page it answers is the pipeline's.
    """
    if not 1 < films <= settings.similar_table_max_films:
        return None
    depth = min(settings.max_k, hybrid_candidates - 1, films - 1)
    return table_key(settings.search_mode, depth, settings.rrf_k, fusion_weight(settings),
                     hybrid_candidates), depth


def table_key(*parts: object) -> str:
    """A short name for what a table depends on beyond its version's files (the mode, the
    depth, the fusion's parameters, this code's version): another setting, another table."""
    return hashlib.sha256(repr((TABLE_FORMAT, __version__, *parts)).encode()).hexdigest()[:12]


def open_saved(version: Path, key: str, films: Sequence[Film]) -> NeighbourTable | None:
    """The table saved in the version folder under ``key``, mapped; None if there is none
    yet (or it can't be read). Takes no lock: a table's folder appears whole or not."""
    folder = version / f"{TABLE_PREFIX}{key}"
    if not (folder / "table.json").is_file():
        return None
    try:
        return NeighbourTable.open(folder, films)
    except (OSError, ValueError, KeyError):
        return None


def open_or_compute(version: Path, key: str, films: Sequence[Film],
                    compute: Callable[[], NeighbourTable]) -> NeighbourTable:
    """The table saved in the version folder under ``key``, or else computed and saved
    there, once: the first process takes a lock on it and computes, the others wait and
    map what it saved. Where the folder can't be written, the table stays in memory."""
    folder = version / f"{TABLE_PREFIX}{key}"
    try:
        lock = open(version / f".{TABLE_PREFIX}{key}.lock", "a+b")  # noqa: SIM115
    except OSError as exc:
        log.warning("more-like-this table not saved (%s): computed in this process", exc)
        return compute()
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if (folder / "table.json").is_file():
            try:
                table = NeighbourTable.open(folder, films)
                log.info("more-like-this table mapped from %s", folder)
                return table
            except (OSError, ValueError, KeyError) as exc:
                log.warning("unreadable more-like-this table %s (%s): computed again",
                            folder, exc)
                shutil.rmtree(folder, ignore_errors=True)
        for stale in version.glob(f".{TABLE_PREFIX}{key}.*.tmp"):  # a killed process's
            shutil.rmtree(stale, ignore_errors=True)
        table = compute()
        try:
            table.save(folder)
        except OSError as exc:
            log.warning("more-like-this table not saved (%s): kept in this process", exc)
            return table
        return NeighbourTable.open(folder, films)  # mapped: its pages shared with the others


def _optional(value: np.float64) -> float | None:
    return None if np.isnan(value) else float(value)
