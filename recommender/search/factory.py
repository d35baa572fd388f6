"""One way to open an engine from :class:`~recommender.config.Settings`: the server, every
command and the evaluations build their model and engine here, so they can't drift (they
had: the embedder made with four, two or one arguments, the rule for the query encoder
written three times)."""

from __future__ import annotations

from pathlib import Path

from recommender.config import Settings
from recommender.embedding.embedder import Embedder
from recommender.index.film_index import FilmIndex
from recommender.index.store import load_index
from recommender.search.engine import Engine


def make_embedder(settings: Settings, *, server: bool = False) -> Embedder:
    """The model ``settings`` name. In a server worker (``server``) it takes that worker's
    share of the cores and keeps the free-text query cache; a command gets every core."""
    if server:
        return Embedder(settings.model, batch_size=settings.batch_size,
                        torch_threads=settings.effective_torch_threads(),
                        query_cache_size=settings.query_cache_size)
    return Embedder(settings.model, batch_size=settings.batch_size)


def query_encoder(settings: Settings, index: FilmIndex) -> Path | None:
    """What embeds free-text queries for ``index``: its ONNX export (onnxruntime, no torch
    in the process) unless ``query_backend`` says torch or the index has none."""
    return index.query_model_path if settings.query_backend == "onnx" else None


def open_engine(settings: Settings, embedder: Embedder | None = None) -> Engine:
    """The engine over the version ``settings.index`` names, with its query encoder.

    Raises:
        IndexUnavailable, IndexMismatch: nothing loadable there, or another model's index.
    """
    embedder = embedder or make_embedder(settings)
    index = load_index(settings.index, expected_model=embedder.name)
    export = query_encoder(settings, index)
    if export is not None:
        embedder.use_onnx(export)
    return Engine(index, embedder, settings)
