"""The offline build: catalog -> vectors (reusing unchanged ones) + words -> a new index version.

``recommender build`` and ``scripts/build_index.py`` call :func:`build_index`;
writing the version atomically is :func:`recommender.index.store.write_index`'s job.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recommender.catalog.films import Catalog, slugify
from recommender.embedding.embedder import DEFAULT_EMBED_FIELDS, document_text
from recommender.embedding.factory import PRECISIONS
from recommender.embedding.models import model_spec
from recommender.errors import IndexUnavailable
from recommender.index.ann import AnnSettings
from recommender.index.lexical import LexicalIndex, catalog_language
from recommender.index.store import ONNX_DIR, build_lock, load_index, write_index


@dataclass(frozen=True)
class RayOptions:
    """``recommender build --ray``: where the cluster is and how wide to embed on it."""

    address: str | None = None
    """As ``ray.init`` takes it; None: the ``RAY_ADDRESS`` variable, or a local cluster."""
    actors_per_node: int = 1
    batch_size: int = 64


@dataclass(frozen=True)
class BuildReport:
    path: Path
    films: int
    dimension: int
    model: str
    seconds: float
    model_load_seconds: float
    embed_seconds: float
    reused: int = 0
    """Films whose vector came from the previous version."""
    embedded: int = 0

    @property
    def films_per_second(self) -> float:
        """Embedding throughput, model loading excluded."""
        return self.embedded / self.embed_seconds if self.embed_seconds > 0 else float("inf")


def previous_vectors(out: str | Path, model: str,
                     embed_fields: tuple[str, ...]) -> tuple[dict[str, np.ndarray], str | None]:
    """Vectors of the current version under ``out``, keyed by the checksum of the
    text they embed: the cache an incremental rebuild reuses.

    Only a version built with the same model and fields counts; anything that
    can't be read gives an empty cache (the build then embeds everything).
    """
    try:
        old = load_index(out, expected_model=model)
    except (IndexUnavailable, OSError):
        return {}, None
    if tuple(old.manifest.get("embedded_fields", ())) != tuple(embed_fields):
        return {}, None
    vectors = old.faiss_index.reconstruct_n(0, len(old))
    return ({text_checksum(document_text(f, embed_fields)): vectors[i]
             for i, f in enumerate(old.films)}, old.version)


def text_checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _cyclic_gc_paused(build: Callable[..., BuildReport]) -> Callable[..., BuildReport]:
    """A build makes token lists and films by the hundred thousand, none in a reference
    cycle; the cyclic collector's passes would only walk the heap (a third of a small
    rebuild of Netflix). Refcounting still frees everything as usual."""

    @functools.wraps(build)
    def paused(*args: Any, **kwargs: Any) -> BuildReport:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return build(*args, **kwargs)
        finally:
            if collecting:
                gc.enable()

    return paused


@_cyclic_gc_paused
def build_index(catalog: Catalog, embedder: Any, out: str | Path, *,
                keep_versions: int = 3, progress: bool = True, language: str | None = None,
                embed_fields: tuple[str, ...] = DEFAULT_EMBED_FIELDS,
                reuse: bool = True, ann: AnnSettings | None = None,
                export_onnx: bool = False, precision: str = "bf16",
                ray: RayOptions | None = None,
                known_vectors: dict[str, np.ndarray] | None = None) -> BuildReport:
    """Embed every film of ``catalog``, index its words, and write a new current version.

    Args:
        embedder: a :class:`recommender.embedding.embedder.Embedder` (or anything with
            ``name``, ``load`` and ``encode``).
        language: the language to stem in; default: the catalog's own.
        embed_fields: what is embedded (see :func:`recommender.embedding.embedder.document_text`).
        reuse: take the vector of every film whose embedded text is unchanged from
            the current version (same model and fields) instead of embedding it
            again; removing films then costs no embedding at all.
        ann: when the index becomes approximate (HNSW) and its parameters.
        export_onnx: export the model to ONNX, once per model, into ``out/onnx/``
            (kept across versions), and embed through it: the same vectors, faster
            on a CPU, for this build and for the server's queries.
        ray: embed on a Ray cluster (:mod:`recommender.embedding.distributed`) instead of here; the
            films that need embedding are the same, and so are their vectors.
        precision: what the build embeds at through the export (OpenVINO):
            "bf16" (where the CPU has it: 1.5x sooner than "fp32", keeping 99.2% of
            the Netflix films' top-10 neighbours) or "fp32". Queries are always fp32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    # one build at a time per folder (a second is refused, saying whose the lock is)
    with build_lock(Path(out)):
        started = time.perf_counter()
        texts = [document_text(f, embed_fields) for f in catalog.films]
        cache, reused_from = previous_vectors(out, embedder.name, embed_fields) if reuse \
            else ({}, None)
        cache = {**(known_vectors or {}), **cache}
        keys = [text_checksum(t) for t in texts]
        todo = [i for i, key in enumerate(keys) if key not in cache]
        loaded = started
        query_model = None
        if export_onnx:
            # made (or found) first: the server embeds queries with it, and this build too
            query_model = _export_query_model(embedder, Path(out))
        vectors: np.ndarray | None = None
        backend: dict[str, str] = {}  # what embedded (runtime, precision), where anything did
        if todo and ray is not None:  # the same films, embedded by actors on the cluster
            from recommender.embedding.distributed import embed_on_ray

            fresh, backend = embed_on_ray(
                [texts[i] for i in todo], address=ray.address, model=embedder.name,
                export=Path(out) / query_model if query_model is not None else None,
                precision=precision, batch_size=ray.batch_size,
                actors_per_node=ray.actors_per_node)
            loaded = started
            vectors = np.empty((len(texts), fresh.shape[1]), dtype=np.float32)
            vectors[todo] = fresh
        elif todo:  # the model is loaded only when something is left to embed
            # through the export where it was made (no torch in this process unless it
            # was made now); the caller's embedder is left as it was
            builder = embedder.for_export(Path(out) / query_model, "openvino", precision) \
                if query_model is not None else embedder.load()
            loaded = time.perf_counter()
            backend = getattr(builder, "backend", {})
            fresh = builder.encode([texts[i] for i in todo], progress=progress)
            vectors = np.empty((len(texts), fresh.shape[1]), dtype=np.float32)
            vectors[todo] = fresh
        embedded = time.perf_counter()
        if vectors is None:
            vectors = np.empty((len(texts), next(iter(cache.values())).shape[0]), dtype=np.float32)
        for i, key in enumerate(keys):
            if key in cache:
                vectors[i] = cache[key]
        lexical = LexicalIndex.build(catalog.films, catalog_language(catalog.films, language))
        reuse_info = {"reused": len(texts) - len(todo), "embedded": len(todo),
                      "from_version": reused_from, **backend}
        path = write_index(Path(out), catalog, vectors, model=embedder.name,
                           model_info=model_spec(embedder.name).record(int(vectors.shape[1])),
                           lexical=lexical,
                           build_seconds=embedded - started, keep_versions=keep_versions,
                           embedded_fields=embed_fields, reuse=reuse_info, ann=ann,
                           query_model=query_model)
        return BuildReport(path=path, films=len(catalog.films), dimension=int(vectors.shape[1]),
                           model=embedder.name, seconds=time.perf_counter() - started,
                           model_load_seconds=loaded - started, embed_seconds=embedded - loaded,
                           reused=len(texts) - len(todo), embedded=len(todo))


def _export_query_model(embedder: Any, out: Path) -> str | None:
    """``onnx/<model>.onnx`` under ``out``, exported once; None where the model can't be."""
    relative = f"{ONNX_DIR}/{slugify(embedder.name) or 'model'}.onnx"
    if (out / relative).is_file():
        return relative
    for stale in (out / ONNX_DIR).glob(".*.tmp"):  # left by an export that was killed
        stale.unlink(missing_ok=True)
    return relative if embedder.export_onnx(out / relative) else None
