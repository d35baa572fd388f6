"""A loaded index in memory: the films, their vectors in FAISS, the words, and search.

How versions are written, found and loaded is :mod:`recommender.index.store`'s job; this
module only searches what was loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from recommender.catalog.films import Film
from recommender.errors import IndexMismatch
from recommender.index.lexical import LexicalIndex
from recommender.ranking import top_k

FEW_EXCLUDED = 8
"""Up to this many rows left out, a search asks for that many more and drops them."""
EXACT_BELOW = 20_000
"""With an approximate index, a filter leaving at most this many films is searched exactly."""


def check_compatible(where: str, model: str, dimension: int, *,
                     expected_model: str | None = None,
                     expected_dimension: int | None = None) -> None:
    """Refuse vectors of another model or dimension than the ones they are compared with.

    The one check behind every load, swap and engine (an index's vectors are comparable
    only with the vectors of the model that made them).

    Raises:
        IndexMismatch: naming ``where`` and what to do about it.
    """
    if expected_model is not None and model != expected_model:
        raise IndexMismatch(
            f"Index {where} was built with model {model!r} but the configured model is "
            f"{expected_model!r}; its vectors are not comparable. Rebuild the index with "
            "this model, or leave --model / RECOMMENDER_MODEL unset to use the index's own.")
    if expected_dimension is not None and dimension != expected_dimension:
        raise IndexMismatch(
            f"Index {where} holds {dimension}-dimensional vectors but the model makes "
            f"{expected_dimension}-dimensional ones. Rebuild the index.")


@dataclass
class FilmIndex:
    """A loaded index: the films, their vectors in FAISS, and the manifest."""

    path: Path
    manifest: dict[str, Any]
    films: list[Film]
    faiss_index: Any
    lexical: LexicalIndex
    query_model_path: Path | None = None
    """The ONNX export that embeds queries for this version, where it has one."""
    overlay: dict[str, Any] | None = None
    """Where the catalog's live changes were applied (:mod:`recommender.index.overlay`):
    what they added, changed, withdrew and hid; None: the version as it was built."""
    row_of: dict[str, int] = field(init=False, repr=False)
    years: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.row_of = {f.id: i for i, f in enumerate(self.films)}
        self.years = np.array(
            [np.nan if f.year is None else f.year for f in self.films], dtype=np.float64
        )

    def __len__(self) -> int:
        return len(self.films)

    def check_compatible(self, model: str | None = None, dimension: int | None = None) -> None:
        """Refuse a model or vectors of another dimension than this index's
        (:func:`check_compatible`)."""
        check_compatible(f"version {self.path.name}", self.model, self.dimension,
                         expected_model=model, expected_dimension=dimension)

    @property
    def dimension(self) -> int:
        return int(self.faiss_index.d)

    @property
    def model(self) -> str:
        return str(self.manifest["model"])

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", self.path.name))

    @property
    def generation(self) -> str:
        """The version, and where live changes are applied which state of them: what a
        cache made from these rows is keyed by (rows differ from one state to the next)."""
        if self.overlay is None:
            return self.version
        return f"{self.version}+{self.overlay['generation']}"

    def vector(self, row: int) -> np.ndarray:
        """The stored vector of the film at ``row``: no model call needed."""
        return self.faiss_index.reconstruct(int(row))

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of the films at ``rows``, as an ``(len(rows), dim)`` array."""
        return self.faiss_index.reconstruct_batch(np.asarray(rows, dtype=np.int64))

    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` rows with the highest inner product with ``query``, best first.

        ``allowed`` is a boolean mask over rows; the filter is applied inside
        the FAISS search (an ID selector), so ``k`` rows come back whenever
        ``k`` rows are allowed, not a post-filtered short list.
        """
        n = len(self.films)
        n_allowed = n if allowed is None else int(allowed.sum())
        k = min(k, n_allowed)
        if k <= 0:
            return []
        excluded = n - n_allowed
        if allowed is not None and 0 < excluded <= FEW_EXCLUDED:
            # e.g. a film's own row: a plain search a little deeper is cheaper than a
            # filtered one (a bitmap over every row), and holds the best k allowed rows
            return [(r, s) for r, s in self.search(query, k + excluded) if allowed[r]][:k]
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        approximate = self.approximate
        filtered = allowed is not None and n_allowed < n
        mask = allowed if allowed is not None else np.ones(n, dtype=bool)
        if filtered and n_allowed <= EXACT_BELOW and (approximate or 4 * n_allowed <= n):
            # a few rows (a viewer's context, an expression): exact over them is cheaper than
            # a graph walk, or a flat scan of every row that asks the selector of each
            return self._exact(q[0], k, np.flatnonzero(mask))
        extra: dict[str, Any] = {}
        if approximate:  # the graph search must look at least k deep
            extra["efSearch"] = max(int(self.faiss_index.hnsw.efSearch), 2 * k)
        bitmap = selector = None
        if filtered:
            bitmap = np.packbits(mask.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
        if filtered or extra:
            # faiss's type stubs know neither SearchParametersHNSW nor sel=; faiss has both
            cls: Any = getattr(faiss, "SearchParametersHNSW" if approximate else
                               "SearchParameters")
            params = cls(sel=selector, **extra) if selector is not None else cls(**extra)
            scores, rows = self.faiss_index.search(q, k, params=params)
        else:
            scores, rows = self.faiss_index.search(q, k)
        del selector, bitmap  # they had to outlive the search call
        hits = [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]
        if approximate and len(hits) < k:  # a tight filter starved the graph walk
            candidates = np.flatnonzero(mask) if filtered else np.arange(n)
            return self._exact(q[0], k, candidates)
        return hits

    @property
    def approximate(self) -> bool:
        return hasattr(self.faiss_index, "hnsw")

    def _exact(self, query: np.ndarray, k: int, rows: np.ndarray) -> list[tuple[int, float]]:
        vectors = self.faiss_index.reconstruct_batch(rows.astype(np.int64))
        return [(int(rows[i]), s) for i, s in top_k(vectors @ query, k)]

