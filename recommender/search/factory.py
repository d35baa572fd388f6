"""One way to open an engine from :class:`~recommender.config.Settings`: the server, every
command and the evaluations build their model and engine here, so they can't drift (they
had: the embedder made with four, two or one arguments, the rule for the query encoder
written three times)."""

from __future__ import annotations

from pathlib import Path

from recommender.config import DEFAULT_MODEL, Settings
from recommender.embedding.embedder import Embedder
from recommender.embedding.models import model_spec
from recommender.errors import IndexUnavailable
from recommender.index.film_index import FilmIndex
from recommender.index.store import load_index, read_manifest, resolve_version_dir
from recommender.search.engine import Engine


def index_model(settings: Settings) -> str:
    """The model that embeds for ``settings.index``: ``settings.model`` where it is set,
    else the one its current version records (the default where nothing is built yet)."""
    if settings.model:
        return settings.model
    try:
        return str(read_manifest(resolve_version_dir(settings.index))["model"])
    except (IndexUnavailable, OSError, ValueError, KeyError):
        return DEFAULT_MODEL


def expected_model(settings: Settings) -> str | None:
    """The model an index must have been built with: the one ``settings`` name (by its
    registry name, whatever alias was given), or None: any, its own model serves it."""
    return model_spec(settings.model).name if settings.model else None


def make_embedder(settings: Settings, *, server: bool = False,
                  model: str | None = None) -> Embedder:
    """The model ``model`` names (default: :func:`index_model`). In a server worker
    (``server``) it takes that worker's share of the cores and keeps the free-text query
    cache; a command gets every core."""
    name = model or index_model(settings)
    if server:
        return Embedder(name, batch_size=settings.batch_size,
                        torch_threads=settings.effective_torch_threads(),
                        query_cache_size=settings.query_cache_size)
    return Embedder(name, batch_size=settings.batch_size)


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
    index = load_index(settings.index, expected_model=expected_model(settings) or embedder.name)
    return Engine(index, embedder.for_export(query_encoder(settings, index)), settings)
