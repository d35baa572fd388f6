"""The FAISS index on disk and in memory.

On disk an index is a folder of versions and a ``current`` pointer::

    models/seeds/
      current -> versions/20261125T120000.123456Z-1a2b3c
      versions/20261125T120000.123456Z-1a2b3c/
        manifest.json   how it was built: model, dimension, counts, checksum, versions
        index.faiss     inner-product index over unit vectors (cosine similarity)
        films.jsonl     the films, row i of the index is line i
        bm25/, lexical.json   the BM25 index over stemmed words (see lexical.py)

A build writes a hidden temporary folder, fsyncs it, renames it into
``versions/`` and then swaps ``current`` with an atomic ``rename``; a build
that dies at any point leaves the previous version current and loadable.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import secrets
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from recommender import __version__
from recommender.catalog import Catalog, Film
from recommender.embedding import DEFAULT_EMBED_FIELDS
from recommender.errors import IndexMismatch, IndexUnavailable
from recommender.lexical import LexicalIndex
from recommender.ranking import top_k

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
VECTORS = "index.faiss"
FILMS = "films.jsonl"
REJECTS = "rejects.jsonl"
"""Catalog rows left out by ``build --on-invalid skip``: line, field, value, reason."""
CURRENT = "current"
VERSIONS = "versions"
_TMP_PREFIX = ".tmp-"
ONNX_DIR = "onnx"
"""Beside ``versions/``: the ONNX export of the model, shared by the versions built with it."""
FEW_EXCLUDED = 8
"""Up to this many rows left out, a search asks for that many more and drops them."""
EXACT_BELOW = 20_000
"""With an approximate index, a filter leaving at most this many films is searched exactly."""


@dataclass
class FilmIndex:
    """A loaded index: the films, their vectors in FAISS, and the manifest."""

    path: Path
    manifest: dict[str, Any]
    films: list[Film]
    faiss_index: Any
    lexical: LexicalIndex
    row_of: dict[str, int] = field(init=False, repr=False)
    years: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.row_of = {f.id: i for i, f in enumerate(self.films)}
        self.years = np.array(
            [np.nan if f.year is None else f.year for f in self.films], dtype=np.float64
        )

    def __len__(self) -> int:
        return len(self.films)

    @property
    def dimension(self) -> int:
        return int(self.faiss_index.d)

    @property
    def model(self) -> str:
        return str(self.manifest["model"])

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", self.path.name))

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
        filtered = n_allowed < n
        if approximate and filtered and n_allowed <= EXACT_BELOW:
            return self._exact(q[0], k, np.flatnonzero(allowed))  # a few rows: exact is cheap
        extra: dict[str, Any] = {}
        if approximate:  # the graph search must look at least k deep
            extra["efSearch"] = max(int(self.faiss_index.hnsw.efSearch), 2 * k)
        bitmap = selector = None
        if filtered:
            bitmap = np.packbits(allowed.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
        if filtered or extra:
            cls = faiss.SearchParametersHNSW if approximate else faiss.SearchParameters
            params = cls(sel=selector, **extra) if selector is not None else cls(**extra)
            scores, rows = self.faiss_index.search(q, k, params=params)
        else:
            scores, rows = self.faiss_index.search(q, k)
        del selector, bitmap  # they had to outlive the search call
        hits = [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]
        if approximate and len(hits) < k:  # a tight filter starved the graph walk
            candidates = np.flatnonzero(allowed) if filtered else np.arange(n)
            return self._exact(q[0], k, candidates)
        return hits

    @property
    def query_model_path(self) -> Path | None:
        """The ONNX export for query embedding recorded in the manifest, if it is there."""
        relative = self.manifest.get("query_model")
        if not relative:
            return None
        path = self.path.parent.parent / relative  # <out>/versions/<version> -> <out>
        return path if path.is_file() else None

    @property
    def approximate(self) -> bool:
        return hasattr(self.faiss_index, "hnsw")

    def _exact(self, query: np.ndarray, k: int, rows: np.ndarray) -> list[tuple[int, float]]:
        vectors = self.faiss_index.reconstruct_batch(rows.astype(np.int64))
        return [(int(rows[i]), s) for i, s in top_k(vectors @ query, k)]


def _library_versions() -> dict[str, str]:
    versions = {
        "recommender": __version__,
        "python": platform.python_version(),
        "faiss": faiss.__version__,
        "numpy": np.__version__,
    }
    for name in ("sentence_transformers", "torch", "transformers"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = str(getattr(module, "__version__", "unknown"))
    return versions


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """fsync every file and folder under ``root``, deepest first, then ``root``."""
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            fd = os.open(Path(folder) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


@dataclass(frozen=True)
class AnnSettings:
    """When and how an approximate (HNSW) index replaces exact search."""

    threshold: int = 50_000
    """Films from which the index is HNSW; below it, exact inner product (IndexFlatIP)."""
    m: int = 32
    ef_construction: int = 80
    ef_search: int | None = None
    """Fixed efSearch; None: the smallest of EF_SEARCH_STEPS that reaches ``target_recall``."""
    target_recall: float = 0.95
    recall_sample: int = 1000
    """Films used as queries to measure recall@10 against exact search at build time."""


EF_SEARCH_STEPS = (64, 128, 256, 512, 1024, 2048, 4096)


def _recall_at_10(index: Any, queries: np.ndarray, exact: np.ndarray, k: int) -> float:
    _, approx = index.search(queries, k)
    return float(np.mean([len(set(a) & set(e)) / k for a, e in zip(approx, exact,
                                                                    strict=True)]))


def make_faiss_index(vectors: np.ndarray, ann: AnnSettings) -> tuple[Any, dict[str, Any]]:
    """Exact inner product for a small catalog; HNSW above ``ann.threshold``.

    The HNSW index's recall@10 against exact search is measured at build time on
    a sample of the films themselves; unless ``ann.ef_search`` is fixed, efSearch
    is the smallest step that reaches ``ann.target_recall`` (the search cost
    grows with it, and the right value grows with the catalog).
    """
    n, dim = vectors.shape
    flat = faiss.IndexFlatIP(dim)
    flat.add(vectors)
    if n < ann.threshold:
        return flat, {"type": "IndexFlatIP"}
    started = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(dim, ann.m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ann.ef_construction
    hnsw.add(vectors)
    seconds = time.perf_counter() - started
    # Queries between films (midpoints of random pairs), not the films themselves:
    # a film finds itself in the graph too easily, which would overstate recall.
    rng = np.random.default_rng(0)
    size = min(ann.recall_sample, n)
    queries = vectors[rng.integers(n, size=size)] + vectors[rng.integers(n, size=size)]
    queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    sample = queries
    k = min(10, n)
    _, exact = flat.search(queries, k)
    steps = (ann.ef_search,) if ann.ef_search else EF_SEARCH_STEPS
    for ef in steps:
        hnsw.hnsw.efSearch = ef
        recall = _recall_at_10(hnsw, queries, exact, k)
        if recall >= ann.target_recall:
            break
    return hnsw, {"type": "IndexHNSWFlat", "m": ann.m, "ef_construction": ann.ef_construction,
                  "ef_search": int(hnsw.hnsw.efSearch), "recall_at_10": round(recall, 4),
                  "target_recall": ann.target_recall, "recall_sample": len(sample),
                  "build_seconds": round(seconds, 2)}


def write_json_atomically(path: str | Path, data: Any) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        _write_file(tmp, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_index(out: Path, catalog: Catalog, vectors: np.ndarray, *, model: str,
                lexical: LexicalIndex, build_seconds: float, keep_versions: int = 3,
                embedded_fields: tuple[str, ...] = DEFAULT_EMBED_FIELDS,
                reuse: dict[str, Any] | None = None, ann: AnnSettings | None = None,
                query_model: str | None = None) -> Path:
    """Write a new index version under ``out`` and make it current; returns its folder.

    ``vectors`` are the catalog's films' unit vectors, row for row.
    """
    if vectors.shape[0] != len(catalog.films):
        raise ValueError(f"{vectors.shape[0]} vectors for {len(catalog.films)} films")
    out = Path(out)
    versions = out / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(versions)

    stamp = datetime.now(UTC)
    version = f"{stamp:%Y%m%dT%H%M%S.%fZ}-{secrets.token_hex(3)}"  # sorts by time
    tmp = versions / f"{_TMP_PREFIX}{version}"
    tmp.mkdir()
    try:
        dim = int(vectors.shape[1])
        index, index_info = make_faiss_index(np.ascontiguousarray(vectors, dtype=np.float32),
                                             ann or AnnSettings())
        _write_file(tmp / VECTORS, faiss.serialize_index(index).tobytes())
        films_jsonl = "".join(
            json.dumps(f.to_dict(), ensure_ascii=False) + "\n" for f in catalog.films
        )
        _write_file(tmp / FILMS, films_jsonl.encode("utf-8"))
        lexical_info = lexical.save(tmp)
        if catalog.rejects:  # the rows --on-invalid skip left out, for the operator to mend
            _write_file(tmp / REJECTS, "".join(
                json.dumps(r, ensure_ascii=False) + "\n" for r in catalog.rejects).encode())
        manifest = {
            "format_version": FORMAT_VERSION,
            "version": version,
            "model": model,
            "dimension": dim,
            "film_count": len(catalog.films),
            "metric": "inner_product",
            "normalized": True,
            "index_type": index_info.pop("type"),
            "ann": index_info or None,
            "embedded_fields": list(embedded_fields),
            "embeddings": reuse or {"reused": 0, "embedded": len(catalog.films),
                                    "from_version": None},
            "lexical": lexical_info,
            "query_model": query_model,
            "catalog": {"source": catalog.source, "sha256": catalog.sha256,
                        "rejected_rows": len(catalog.rejects)},
            "libraries": _library_versions(),
            "built_at": stamp.isoformat(timespec="seconds"),
            "build_seconds": round(build_seconds, 3),
        }
        # The manifest is written last: a folder with a manifest is complete.
        _write_file(tmp / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
        _fsync_tree(tmp)
        # Read it back as a server would: a version that doesn't load never becomes current.
        load_index(tmp, expected_model=model, expected_dimension=dim)
        final = versions / version
        os.rename(tmp, final)
        _fsync_dir(versions)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _point_current(out, final)
    prune_versions(out, keep=keep_versions)
    return final


def _point_current(out: Path, target: Path) -> None:
    link_tmp = out / f"{_TMP_PREFIX}{CURRENT}-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        link_tmp.unlink()
    os.symlink(os.path.relpath(target, out), link_tmp)
    os.replace(link_tmp, out / CURRENT)  # atomic: readers see the old or the new
    _fsync_dir(out)


def _remove_stale_temporaries(versions: Path) -> None:
    for child in versions.iterdir():
        if child.name.startswith(_TMP_PREFIX):
            shutil.rmtree(child, ignore_errors=True)


def complete_versions(out: str | Path) -> list[Path]:
    """The complete version folders under ``out``, oldest first (names sort by time)."""
    versions = Path(out) / VERSIONS
    if not versions.is_dir():
        return []
    return sorted((p for p in versions.iterdir()
                   if not p.name.startswith(".") and (p / MANIFEST).is_file()),
                  key=lambda p: p.name)


def prune_versions(out: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` versions (never the current one)."""
    if keep < 1:
        return []
    current = (out / CURRENT).resolve() if (out / CURRENT).exists() else None
    removed = []
    for old in complete_versions(out)[:-keep]:
        if current is not None and old.resolve() == current:
            continue
        shutil.rmtree(old, ignore_errors=True)
        removed.append(old)
    return removed


def resolve_version_dir(path: str | Path) -> Path:
    """The version folder that ``path`` names: itself, or what its ``current`` points to."""
    path = Path(path)
    if (path / CURRENT).exists():
        return (path / CURRENT).resolve()
    if (path / MANIFEST).is_file():
        return path
    raise IndexUnavailable(
        f"No index at {str(path)!r}. Build one with: recommender build --out {path}"
    )


def load_index(path: str | Path, *, expected_model: str | None = None,
               expected_dimension: int | None = None) -> FilmIndex:
    """Load and check an index.

    Raises:
        IndexUnavailable: nothing loadable at ``path``.
        IndexMismatch: built with another model, dimension or format than expected,
            or its files disagree with its manifest.
    """
    folder = resolve_version_dir(path)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexUnavailable(f"Unreadable manifest in {folder}: {exc}") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(
            f"Index {folder} has format version {manifest.get('format_version')!r}; this "
            f"service reads version {FORMAT_VERSION}. Rebuild it with: recommender build"
        )
    if expected_model is not None and manifest.get("model") != expected_model:
        raise IndexMismatch(
            f"Index {folder} was built with model {manifest.get('model')!r} but the "
            f"configured model is {expected_model!r}; its vectors are not comparable. "
            "Rebuild the index with this model, or set --model / RECOMMENDER_MODEL "
            "to the index's model."
        )
    if expected_dimension is not None and manifest.get("dimension") != expected_dimension:
        raise IndexMismatch(
            f"Index {folder} holds {manifest.get('dimension')}-dimensional vectors but the "
            f"model makes {expected_dimension}-dimensional ones. Rebuild the index."
        )
    try:
        started = time.perf_counter()
        # Memory-mapped, read-only: the vectors stay in the page cache, one copy
        # shared by every server worker (and by the builds that read them back).
        flat = faiss.read_index(str(folder / VECTORS), faiss.IO_FLAG_MMAP_IFC)
        if hasattr(flat, "hnsw"):  # efSearch is not stored in the file
            flat.hnsw.efSearch = int((manifest.get("ann") or {}).get("ef_search", 256))
        lines = (folder / FILMS).read_text(encoding="utf-8").splitlines()
        films = [Film.from_dict(json.loads(line)) for line in lines if line.strip()]
        lexical = LexicalIndex.load(folder)
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise IndexUnavailable(f"Unreadable index files in {folder}: {exc}") from None
    if not (flat.ntotal == len(films) == lexical.n_docs == manifest.get("film_count")) or \
            flat.d != manifest.get("dimension"):
        raise IndexMismatch(
            f"Index {folder} is inconsistent: manifest says {manifest.get('film_count')} "
            f"films of dimension {manifest.get('dimension')}, files hold {len(films)} films "
            f"and {flat.ntotal} vectors of dimension {flat.d}. Rebuild it."
        )
    log.info("loaded index %s (%d films) in %.2fs", folder, len(films),
             time.perf_counter() - started)
    return FilmIndex(path=folder, manifest=manifest, films=films, faiss_index=flat,
                     lexical=lexical)
