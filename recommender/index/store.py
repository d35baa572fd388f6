"""The version store: index versions on disk, written atomically, pruned, loaded and checked.

On disk an index is a folder of versions and a ``current`` pointer::

    models/seeds/
      current -> versions/20261125T120000.123456Z-1a2b3c
      versions/20261125T120000.123456Z-1a2b3c/
        manifest.json   how it was built: model, dimension, counts, checksum, versions
        index.faiss     inner-product index over unit vectors (cosine similarity)
        films.jsonl     the films, row i of the index is line i
        bm25/, lexical.json   the BM25 index over stemmed words (see lexical.py)
        rejects.jsonl   rows a ``--on-invalid skip`` build left out (only then)
      onnx/<model>.onnx the model's export, shared by the versions built with it

A build writes a hidden temporary folder, fsyncs it, renames it into
``versions/`` and then swaps ``current`` with an atomic ``rename``; a build
that dies at any point leaves the previous version current and loadable.
This module is the only one that knows the layout (docs/index-format.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import platform
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from recommender import __version__
from recommender.catalog.films import Catalog, Film
from recommender.embedding.embedder import DEFAULT_EMBED_FIELDS
from recommender.errors import IndexMismatch, IndexUnavailable
from recommender.files import fsync_dir, sha256_of, staged_folder, write_file
from recommender.index.ann import AnnSettings, make_faiss_index
from recommender.index.film_index import FilmIndex, check_compatible
from recommender.index.lexical import LexicalIndex

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
MODELS_DIR = "models"
"""Beside ``versions/``: the collaborative model's own versions and ``current``
(:mod:`recommender.viewers.collaborative`), published and followed with the index's."""
ONNX_DIR = "onnx"
"""Beside ``versions/``: the ONNX export of the model, shared by the versions built with it."""


def shared_path(version: Path, relative: str) -> Path:
    """A file kept beside ``versions/`` (the ONNX export), named as a manifest names it."""
    return version.parent.parent / relative  # <out>/versions/<version> -> <out>


def read_manifest(version: Path) -> dict[str, Any]:
    """The manifest of the version folder ``version``."""
    manifest: dict[str, Any] = json.loads((version / MANIFEST).read_text(encoding="utf-8"))
    return manifest


def query_model_path(version: Path, manifest: dict[str, Any]) -> Path | None:
    """The ONNX export the manifest of the version in ``version`` names, if it is there."""
    relative = manifest.get("query_model")
    if not relative:
        return None
    path = shared_path(version, relative)
    return path if path.is_file() else None


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



def write_index(out: Path, catalog: Catalog, vectors: np.ndarray, *, model: str,
                lexical: LexicalIndex, build_seconds: float, keep_versions: int = 3,
                embedded_fields: tuple[str, ...] = DEFAULT_EMBED_FIELDS,
                reuse: dict[str, Any] | None = None, ann: AnnSettings | None = None,
                query_model: str | None = None,
                model_info: dict[str, Any] | None = None) -> Path:
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
    final = versions / version
    with staged_folder(final, versions / f"{_TMP_PREFIX}{version}") as tmp:
        dim = int(vectors.shape[1])
        index, index_info = make_faiss_index(np.ascontiguousarray(vectors, dtype=np.float32),
                                             ann or AnnSettings())
        write_file(tmp / VECTORS, faiss.serialize_index(index).tobytes())
        films_jsonl = "".join(
            json.dumps(f.to_dict(), ensure_ascii=False) + "\n" for f in catalog.films
        )
        write_file(tmp / FILMS, films_jsonl.encode("utf-8"))
        lexical_info = lexical.save(tmp)
        if catalog.rejects:  # the rows --on-invalid skip left out, for the operator to mend
            write_file(tmp / REJECTS, "".join(
                json.dumps(r, ensure_ascii=False) + "\n" for r in catalog.rejects).encode())
        manifest = {
            "format_version": FORMAT_VERSION,
            "version": version,
            "model": model,
            "model_info": model_info,
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
                        "rejected_rows": len(catalog.rejects),
                        **({"changes": catalog.changes} if catalog.changes else {})},
            "libraries": _library_versions(),
            "built_at": stamp.isoformat(timespec="seconds"),
            "build_seconds": round(build_seconds, 3),
        }
        manifest["files"] = version_files(tmp)  # each file's checksum, for publishing
        # The manifest is written last: a folder with a manifest is complete.
        write_file(tmp / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
        # Read it back as a server would: a version that doesn't load never becomes current.
        load_index(tmp, expected_model=model, expected_dimension=dim)
    point_current(out, final)
    prune_versions(out, keep=keep_versions)
    return final


def point_current(out: Path, target: Path) -> None:
    link_tmp = out / f"{_TMP_PREFIX}{CURRENT}-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        link_tmp.unlink()
    os.symlink(os.path.relpath(target, out), link_tmp)
    os.replace(link_tmp, out / CURRENT)  # atomic: readers see the old or the new
    fsync_dir(out)


BUILD_LOCK = ".build.lock"
"""Beside ``versions/``: held (flock) by the one build writing into this folder."""


class BuildInProgress(OSError):
    """Another build is writing into the same index folder (the folder is busy: an
    ``OSError``, which the command line prints as an error, without a traceback)."""


@contextlib.contextmanager
def build_lock(out: Path) -> Iterator[None]:
    """Hold ``out``'s build lock for a whole build, or refuse at once, saying whose it is.

    One build at a time per folder: two would each clean the other's temporary folder
    away as stale. The lock is the kernel's (flock), so a killed build leaves none."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / BUILD_LOCK, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise BuildInProgress(
                f"another build is writing into {out} ({holder}); wait for it to finish, "
                "or build into another --out folder") from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}\n")
        lock.flush()
        try:
            yield
        finally:
            lock.seek(0)
            lock.truncate()


def version_files(version: Path) -> dict[str, dict[str, Any]]:
    """Every file a build wrote into ``version`` (not the more-like-this tables or locks a
    server adds later, nor the manifest itself), with its sha256 and size: what the
    manifest lists, and what publishing copies and a follower checks."""
    files = {}
    for path in sorted(version.rglob("*")):
        rel = path.relative_to(version).as_posix()
        if not path.is_file() or rel == MANIFEST or rel.startswith(".") or \
                rel.startswith("neighbours-"):
            continue
        files[rel] = {"sha256": sha256_of(path), "bytes": path.stat().st_size}
    return files


def verify_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest lists is there, of its size and sha256: a version changed
    on disk after its build (a disk fault, a hand, a copy cut short; same size or not) is
    refused before it serves, as the store's follower refuses one in transit.

    Raises:
        IndexMismatch: naming the first file that differs.
    """
    for relative, meta in (manifest.get("files") or {}).items():
        path = folder / relative
        try:
            size = path.stat().st_size
            same = size == meta.get("bytes") and sha256_of(path) == meta.get("sha256")
        except OSError:
            same = False
        if not same:
            raise IndexMismatch(
                f"Index version {folder.name} differs from its manifest: {relative} is "
                "missing or changed since the build (size or sha256). Rebuild it, or point "
                "current at another version.")


_FINITE_CHUNK = 65_536


def _check_finite(flat: Any, name: str) -> None:
    """Refuse vectors that aren't finite (NaN scores rank nothing and aren't JSON)."""
    for start in range(0, flat.ntotal, _FINITE_CHUNK):
        block = flat.reconstruct_n(start, min(_FINITE_CHUNK, flat.ntotal - start))
        if not np.isfinite(block).all():
            raise IndexMismatch(f"Index version {name} holds vectors that are not finite "
                                "(NaN or infinity). Rebuild it.")


def _remove_stale_temporaries(versions: Path) -> None:
    """Temporary folders of builds that were killed: stale, since the caller holds the
    folder's build lock (no other build is writing one)."""
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
        f"No index at {str(path)!r}. Build one with: recommender build --out {path}",
        public="No index has been built yet. Build one with: recommender build")


def load_index(path: str | Path, *, expected_model: str | None = None,
               expected_dimension: int | None = None) -> FilmIndex:
    """Load and check an index.

    Raises:
        IndexUnavailable: nothing loadable at ``path``.
        IndexMismatch: built with another model, dimension or format than expected,
            or its files disagree with its manifest.
    """
    folder = resolve_version_dir(path)
    name = folder.name
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexUnavailable(f"Unreadable manifest in {folder}: {exc}",
                               public=f"Version {name}'s manifest can't be read.") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(
            f"Index version {name} has format version {manifest.get('format_version')!r}; "
            f"this service reads version {FORMAT_VERSION}. Rebuild it with: recommender build"
        )
    check_compatible(f"version {name}", manifest.get("model"), manifest.get("dimension"),
                     expected_model=expected_model, expected_dimension=expected_dimension)
    started = time.perf_counter()
    verify_files(folder, manifest)
    try:
        # Memory-mapped, read-only: the vectors stay in the page cache, one copy
        # shared by every server worker (and by the builds that read them back).
        flat = faiss.read_index(str(folder / VECTORS), faiss.IO_FLAG_MMAP_IFC)
        if hasattr(flat, "hnsw"):  # efSearch is not stored in the file
            flat.hnsw.efSearch = int((manifest.get("ann") or {}).get("ef_search", 256))
        lines = (folder / FILMS).read_text(encoding="utf-8").splitlines()
        films = [Film.from_dict(json.loads(line)) for line in lines if line.strip()]
        lexical = LexicalIndex.load(folder)
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        # FAISS's messages name its C++ source files: the log's, not a client's
        raise IndexUnavailable(f"Unreadable index files in {folder}: {exc}",
                               public=f"Version {name}'s files can't be read.") from None
    if not (flat.ntotal == len(films) == lexical.n_docs == manifest.get("film_count")) or \
            flat.d != manifest.get("dimension"):
        raise IndexMismatch(
            f"Index version {name} is inconsistent: manifest says "
            f"{manifest.get('film_count')} films of dimension {manifest.get('dimension')}, "
            f"files hold {len(films)} films and {flat.ntotal} vectors of dimension {flat.d}. "
            "Rebuild it."
        )
    _check_finite(flat, name)
    log.info("loaded index %s (%d films) in %.2fs", folder, len(films),
             time.perf_counter() - started)
    return FilmIndex(path=folder, manifest=manifest, films=films, faiss_index=flat,
                     lexical=lexical, query_model_path=query_model_path(folder, manifest))
