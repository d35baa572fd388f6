"""Durable writes: a file is written whole and fsynced, or replaced by an atomic rename.

Everything the service writes to disk (index versions, benchmark reports, the
``current`` pointer) goes through here, so a crash leaves the old file or the new
one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in the folder ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file and folder under ``root``, deepest first, then ``root``."""
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            fd = os.open(Path(folder) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(folder))


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and fsync it (no rename: for files in a temporary folder)."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_json_atomically(path: str | Path, data: Any) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_file(tmp, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def staged_folder(final: Path, temporary: Path | None = None) -> Iterator[Path]:
    """A temporary folder to fill, renamed into ``final`` (fsynced, then the rename made
    durable) when the ``with`` block ends, removed if it raises: a reader sees no folder or
    a whole one. ``temporary`` names it (default: hidden beside ``final``, with this
    process's id); a stale one of the same name is cleared first."""
    tmp = temporary or final.with_name(f".tmp-{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        fsync_tree(tmp)
        os.rename(tmp, final)
        fsync_dir(final.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def staged_file(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that wants a file name (an exporter),
    renamed over ``path`` when the block ends, removed if it raises."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield tmp
        if tmp.exists():
            os.replace(tmp, path)
            fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def sha256_of(path: Path) -> str:
    """The file's sha256, read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
