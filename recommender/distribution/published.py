"""Index versions in an object store: published by ``recommender publish``, followed by
servers started with ``--index URL`` (any fsspec URL: ``s3://``, ``gs://``, ``file://``).

The store mirrors the local layout, without symlinks (object stores have none)::

    <url>/current                      the text "versions/<version>"
    <url>/versions/<version>/...       the version's files, manifest.json last
    <url>/onnx/<model>.onnx            the export its queries are embedded with

Publishing uploads every file of the version, the manifest (which names each file with
its sha256) after them, and the store's ``current`` last: a reader that follows
``current`` never sees half a version. A follower downloads a new version whole into a
local cache, checks every file against the manifest, and only then points the cache's
own ``current`` at it; from there a server's
:class:`~recommender.distribution.live.LiveIndex` swaps as
it does for a local build. A version that fails its checks is refused and reported.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recommender.errors import IndexUnavailable
from recommender.files import (
    sha256_of,
    staged_file,
    staged_folder,
    write_file,
)
from recommender.index.store import (
    CURRENT,
    MANIFEST,
    MODELS_DIR,
    VERSIONS,
    complete_versions,
    point_current,
    read_manifest,
    resolve_version_dir,
    shared_path,
    version_files,
)

log = logging.getLogger(__name__)


def is_url(value: str | os.PathLike[str]) -> bool:
    return "://" in str(value)


def _fs(url: str) -> tuple[Any, str]:
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:  # e.g. s3:// without s3fs installed
        raise IndexUnavailable(f"can't open the store {url}: {exc}") from None
    return fs, root.rstrip("/")


@dataclass(frozen=True)
class Published:
    version: str
    files: int
    bytes: int
    pruned: list[str]
    model: str | None = None
    """The collaborative model version published with it (None: the index has none)."""


def publish(index: str | Path, url: str, keep: int = 3) -> Published:
    """Upload the current version under ``index`` to the store at ``url``; ``current``
    last; then prune the store's versions beyond the newest ``keep`` (never the current).

    Raises:
        IndexUnavailable: nothing to publish, or a local file differs from its manifest
            (a corrupted version is never published).
    """
    version = resolve_version_dir(index)
    manifest = read_manifest(version)
    files = version_files(version)
    recorded = manifest.get("files")
    if recorded is not None and recorded != files:
        changed = sorted(set(recorded) ^ set(files) |
                         {f for f in recorded if files.get(f) != recorded[f]})
        raise IndexUnavailable(f"version {version.name} differs from its manifest "
                               f"({', '.join(changed[:5])}): rebuild it before publishing")
    shared: dict[str, dict[str, Any]] = {}
    if manifest.get("query_model"):
        export = shared_path(version, manifest["query_model"])
        if export.is_file():
            shared[manifest["query_model"]] = {"sha256": sha256_of(export),
                                               "bytes": export.stat().st_size}
    fs, root = _fs(url)
    target = f"{root}/{VERSIONS}/{version.name}"
    for rel, meta in shared.items():  # the export, once per model
        remote = f"{root}/{rel}"
        if not (fs.exists(remote) and fs.size(remote) == meta["bytes"]):
            fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
            fs.put_file(str(shared_path(version, rel)), remote)
    for rel in files:
        fs.makedirs(f"{target}/{rel}".rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(version / rel), f"{target}/{rel}")
    published = {**manifest, "files": files, "shared_files": shared}
    fs.pipe_file(f"{target}/{MANIFEST}", (json.dumps(published, indent=2) + "\n").encode())
    _write_current(fs, root, f"{VERSIONS}/{version.name}")
    model = _publish_model(Path(index), fs, root)
    pruned = _prune(fs, root, keep, version.name)
    size = sum(m["bytes"] for m in files.values()) + sum(m["bytes"] for m in shared.values())
    log.info("published %s to %s (%d files, %d bytes)", version.name, url, len(files), size)
    return Published(version.name, len(files) + len(shared), size, pruned, model)


def _publish_model(index: Path, fs: Any, root: str) -> str | None:
    """The collaborative model ``index`` serves (its ``models/current``), uploaded beside
    the versions with its manifest last and the store's ``models/current`` after it; None
    where there is no model. A version already in the store is not sent again."""
    link = index / MODELS_DIR / CURRENT
    if not link.exists():
        return None
    version = link.resolve()
    manifest = read_manifest(version)
    models = f"{root}/{MODELS_DIR}"
    target = f"{models}/{VERSIONS}/{version.name}"
    if not fs.exists(f"{target}/{MANIFEST}"):
        fs.makedirs(target, exist_ok=True)
        for rel in manifest["files"]:
            fs.put_file(str(version / rel), f"{target}/{rel}")
        fs.pipe_file(f"{target}/{MANIFEST}", (json.dumps(manifest, indent=2) + "\n").encode())
    _write_current(fs, models, f"{VERSIONS}/{version.name}")
    return version.name


def _write_current(fs: Any, root: str, value: str) -> None:
    """The store's pointer, replaced in one step: a rename on a file system, a single PUT
    (atomic per object) on an object store."""
    data = (value + "\n").encode()
    if "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)):
        tmp = f"{root}/.{CURRENT}.{os.getpid()}.tmp"
        fs.pipe_file(tmp, data)
        os.replace(tmp, f"{root}/{CURRENT}")
    else:
        fs.pipe_file(f"{root}/{CURRENT}", data)


def _prune(fs: Any, root: str, keep: int, current: str) -> list[str]:
    try:
        names = sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(f"{root}/{VERSIONS}",
                                                                       detail=False))
    except FileNotFoundError:
        return []
    complete = [n for n in names if not n.startswith(".")]
    old = [n for n in complete[:-keep] if n != current] if keep >= 1 else []
    for name in old:
        fs.rm(f"{root}/{VERSIONS}/{name}", recursive=True)
    return old


class Follower:
    """Keeps a local cache folder in step with a store's ``current``.

    The cache is a local index folder (``versions/``, ``current``, ``onnx/``), so the rest
    of the service reads it as it reads a build's output. Workers of one server share
    it: a lock makes one of them download, the others find the version there.
    """

    def __init__(self, url: str, cache: Path) -> None:
        self.url = url
        self.cache = Path(cache)
        self.error: str | None = None
        """Why the last new version was refused (None: it wasn't)."""
        self.refused: str | None = None
        self.model_error: str | None = None
        """Why the store's newest collaborative model isn't in the cache (None: it is)."""

    def remote_current(self) -> str:
        """The name of the store's current version.

        Raises:
            IndexUnavailable: the store can't be reached or is gone (said so), it has
                no current version yet (said so), or its pointer is malformed.
        """
        fs, root = _fs(self.url)
        try:
            value = fs.cat_file(f"{root}/{CURRENT}").decode().strip()
        except FileNotFoundError:
            try:
                exists = fs.exists(root)
            except Exception:
                exists = False
            if not exists:
                raise IndexUnavailable(
                    f"the store {self.url} can't be found (removed, or not reachable from "
                    "here): serving the cached version", public="the index store can't be "
                    "found: serving the cached version") from None
            raise IndexUnavailable(f"the store {self.url} has no current version yet: "
                                   f"publish one with recommender publish --to {self.url}",
                                   public="the index store has no current version yet"
                                   ) from None
        except Exception as exc:
            raise IndexUnavailable(
                f"the store {self.url} can't be read ({type(exc).__name__}: {exc}): serving "
                "the cached version", public="the index store can't be reached: serving the "
                "cached version") from None
        if not value.startswith(f"{VERSIONS}/") or "/" in value[len(VERSIONS) + 1:]:
            raise IndexUnavailable(f"the store's current pointer is malformed: {value!r}",
                                   public="the index store's current pointer is malformed")
        return value[len(VERSIONS) + 1:]

    def sync(self) -> bool:
        """Bring the cache to the store's current version; True if ``current`` moved.

        Raises:
            IndexUnavailable: the store can't be read, or its new version fails its checks
                (``error`` says why; the cache keeps serving what it had).
        """
        moved = self._sync_index()
        self.sync_model()
        return moved

    def _sync_index(self) -> bool:
        name = self.remote_current()
        local = self.cache / VERSIONS / name
        if (self.cache / CURRENT).exists() and \
                (self.cache / CURRENT).resolve() == local.resolve():
            self.error = self.refused = None  # the store's current is ours again
            return False
        self.cache.mkdir(parents=True, exist_ok=True)
        with self._locked():
            if not (local / MANIFEST).is_file():
                self._download(name)
            if (self.cache / CURRENT).exists() and \
                    (self.cache / CURRENT).resolve() == local.resolve():
                return False  # another worker of this server got there first
            point_current(self.cache, local)
        self.error = self.refused = None
        keep = [v.name for v in complete_versions(self.cache)][-3:]
        for old in complete_versions(self.cache):  # the cache keeps the newest three
            if old.name not in keep and old.resolve() != local.resolve():
                shutil.rmtree(old, ignore_errors=True)
        log.info("cache %s now at version %s of %s", self.cache, name, self.url)
        return True

    def sync_model(self) -> bool:
        """Bring the cache's collaborative model to the store's ``models/current``, each
        file checked against its manifest; True if it moved. A model that fails its
        checks is refused (``model_error``) and the cache keeps the one it had."""
        fs, root = _fs(self.url)
        models = f"{root}/{MODELS_DIR}"
        try:
            value = fs.cat_file(f"{models}/{CURRENT}").decode().strip()
        except FileNotFoundError:
            return False  # no model published: the servers answer as without one
        name = value.removeprefix(f"{VERSIONS}/")
        if "/" in name or not name:
            self.model_error = f"the store's models/current is malformed: {value!r}"
            return False
        cache = self.cache / MODELS_DIR
        local = cache / VERSIONS / name
        if (cache / CURRENT).exists() and (cache / CURRENT).resolve() == local.resolve():
            self.model_error = None
            return False
        cache.mkdir(parents=True, exist_ok=True)
        with self._locked():
            if not (local / MANIFEST).is_file():
                (cache / VERSIONS).mkdir(parents=True, exist_ok=True)
                try:
                    with staged_folder(local) as tmp:
                        manifest = json.loads(fs.cat_file(
                            f"{models}/{VERSIONS}/{name}/{MANIFEST}"))
                        for rel, meta in manifest["files"].items():
                            fs.get_file(f"{models}/{VERSIONS}/{name}/{rel}", str(tmp / rel))
                            if sha256_of(tmp / rel) != meta["sha256"]:
                                raise ValueError(f"{rel} doesn't match its checksum")
                        write_file(tmp / MANIFEST, json.dumps(manifest).encode())
                except (OSError, ValueError, KeyError) as exc:
                    self.model_error = f"model {name} from the store refused: {exc}"
                    log.error("%s", self.model_error)
                    return False
            point_current(cache, local)
        self.model_error = None
        for old in sorted(p for p in (cache / VERSIONS).iterdir()
                          if not p.name.startswith("."))[:-3]:
            if old.resolve() != local.resolve():
                shutil.rmtree(old, ignore_errors=True)
        log.info("cache %s now at model %s of %s", cache, name, self.url)
        return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.cache / ".sync.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _download(self, name: str) -> None:
        fs, root = _fs(self.url)
        source = f"{root}/{VERSIONS}/{name}"
        try:
            manifest = json.loads(fs.cat_file(f"{source}/{MANIFEST}"))
        except (FileNotFoundError, ValueError) as exc:
            self._refuse(name, f"its manifest can't be read ({type(exc).__name__})")
        files, shared = manifest.get("files"), manifest.get("shared_files") or {}
        if not isinstance(files, dict) or not files:
            self._refuse(name, "its manifest lists no files with checksums")
        (self.cache / VERSIONS).mkdir(parents=True, exist_ok=True)
        with staged_folder(self.cache / VERSIONS / name) as tmp:
            for rel, meta in files.items():
                self._fetch(fs, f"{source}/{rel}", tmp / rel, meta, name, rel)
            for rel, meta in shared.items():  # the export, where the cache lacks it
                local = self.cache / rel
                if not (local.is_file() and sha256_of(local) == meta.get("sha256")):
                    with staged_file(local) as part:
                        self._fetch(fs, f"{root}/{rel}", part, meta, name, rel)
            write_file(tmp / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())

    def _fetch(self, fs: Any, remote: str, local: Path, meta: dict[str, Any], name: str,
               rel: str) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            fs.get_file(remote, str(local))
        except FileNotFoundError:
            self._refuse(name, f"{rel} is missing from the store")
        if sha256_of(local) != meta.get("sha256"):
            self._refuse(name, f"{rel} doesn't match its checksum in the manifest")

    def _refuse(self, name: str, why: str) -> None:
        self.refused = name
        self.error = f"version {name} from {self.url} refused: {why}"
        log.error("%s", self.error)
        raise IndexUnavailable(self.error, public=f"version {name} from the index store "
                                                  f"refused: {why}")
