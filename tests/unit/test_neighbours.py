"""The precomputed "more like this" table answers exactly as the ranking pipeline does."""

import dataclasses

import pytest

from recommender.index.store import load_index
from recommender.search.engine import Engine, QueryOptions
from tests.conftest import ROCKY_IDS


@pytest.fixture(scope="module")
def tabled(settings, embedder) -> Engine:
    engine = Engine(load_index(settings.index, expected_model=embedder.name), embedder, settings)
    assert engine.precompute_similar()
    return engine


def page_dict(engine: Engine, film_id: str, options: QueryOptions) -> dict:
    return engine.similar(film_id, options).to_dict()


@pytest.mark.parametrize("k,offset", [(1, 0), (4, 0), (7, 0), (3, 2), (5, 2), (2, 6), (5, 9)])
def test_every_page_equals_the_pipelines(engine, tabled, k, offset):
    assert engine.neighbours is None  # the plain engine answers through the pipeline
    options = QueryOptions(k=k, offset=offset, mode=tabled.settings.search_mode)
    assert tabled.neighbours.answers(options)
    for film in engine.index.films:
        assert page_dict(tabled, film.id, options) == page_dict(engine, film.id, options)


def test_the_table_holds_the_rocky_films_first(tabled):
    table = tabled.neighbours
    row = tabled.index.row_of["rocky-1976"]
    first = [tabled.index.films[r].id for r in table.rows[row, :4]]
    assert sorted(first) == sorted(ROCKY_IDS[1:])
    assert table.depth == len(tabled.index) - 1  # every other film, at most max_k
    assert (table.lengths == table.depth).all()


@pytest.mark.parametrize("options", [
    QueryOptions(mode="semantic"), QueryOptions(mode="lexical"), QueryOptions(year_min=1980),
    QueryOptions(genres=("Drama",)), QueryOptions(exclude=("rocky-ii-1979",)),
    QueryOptions(min_score=0.5), QueryOptions(diversity=0.5), QueryOptions(explain=True),
])
def test_other_questions_go_down_the_pipeline(engine, tabled, options):
    assert not tabled.neighbours.answers(options)
    for film_id in ("rocky-1976", engine.index.films[-1].id):
        assert page_dict(tabled, film_id, options) == page_dict(engine, film_id, options)


def test_pages_deeper_than_a_shallow_table_go_down_the_pipeline(settings, embedder, engine):
    shallow = Engine(load_index(settings.index, expected_model=embedder.name), embedder,
                     dataclasses.replace(settings, max_k=3))
    shallow.precompute_similar()
    assert shallow.neighbours.depth == 3 and not shallow.neighbours.complete
    for k, offset, from_table in [(3, 0, True), (2, 1, True), (2, 2, False), (1, 3, False)]:
        options = QueryOptions(k=k, offset=offset)
        assert shallow.neighbours.answers(options) is from_table
        for film in engine.index.films:
            assert page_dict(shallow, film.id, options) == page_dict(engine, film.id, options)


def test_the_table_is_saved_in_the_version_and_mapped_by_the_next_engine(tmp_path, settings,
                                                                          embedder, engine):
    import shutil

    import numpy as np

    from recommender.search.neighbours import TABLE_PREFIX

    out = tmp_path / "idx"
    shutil.copytree(settings.index, out, symlinks=True)
    for old in (out / "current").resolve().glob(f"{TABLE_PREFIX}*"):
        shutil.rmtree(old)  # made by other tests in the session's index
    copied = dataclasses.replace(settings, index=out)
    first = Engine(load_index(out), embedder, copied)
    assert not first.precompute_similar(compute=False)  # nothing saved yet: not computed
    assert first.precompute_similar()
    saved = list((out / "current").resolve().glob(f"{TABLE_PREFIX}*/rows.npy"))
    assert len(saved) == 1
    second = Engine(load_index(out), embedder, copied)
    assert second.precompute_similar(compute=False)  # mapped, not computed
    assert isinstance(second.neighbours.rows, np.memmap)
    options = QueryOptions(k=3, offset=1)
    for film in engine.index.films:
        assert page_dict(second, film.id, options) == page_dict(engine, film.id, options)
    other = Engine(load_index(out), embedder, dataclasses.replace(copied, rrf_k=30))
    assert not other.precompute_similar(compute=False)  # another setting, another table


def test_processes_sharing_a_version_compute_its_table_once(tmp_path, engine):
    """The first takes the lock and computes; the others wait on it and map the result."""
    import threading
    import time

    from recommender.search.neighbours import NeighbourTable, open_or_compute

    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.3)  # long enough for the others to be waiting on the lock
        return NeighbourTable.compute(engine.index.films, engine.index.row_of,
                                      engine._similar_ranked, "hybrid", 3)

    tables = []
    threads = [threading.Thread(target=lambda: tables.append(
        open_or_compute(tmp_path, "k", engine.index.films, compute))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(calls) == 1 and len(tables) == 3
    assert all((t.rows == tables[0].rows).all() for t in tables)


def test_a_version_folder_that_cant_be_written_keeps_the_table_in_memory(tmp_path, engine):
    from recommender.search.neighbours import NeighbourTable, open_or_compute

    not_a_folder = tmp_path / "version"  # (root writes any folder: a file can't be one)
    not_a_folder.write_text("")
    table = open_or_compute(not_a_folder, "k", engine.index.films, lambda: NeighbourTable.compute(
        engine.index.films, engine.index.row_of, engine._similar_ranked, "hybrid", 3))
    assert table.depth == 3 and not isinstance(table.rows, __import__("numpy").memmap)
