"""The event store against real databases: a SQLite file and a PostgreSQL server, the same
tests for both (recommender/events)."""

import sqlite3
import threading
import time

import pytest

from recommender.storage import Event, SchemaTooNew, default_url, open_store
from recommender.storage.database import MIGRATIONS


@pytest.fixture
def url(events_url):
    return events_url


@pytest.fixture
def store(url):
    opened = open_store(url)
    yield opened
    opened.close()


def test_a_new_database_is_migrated_once(url):
    first = open_store(url)
    assert first.schema_version() == MIGRATIONS[-1][0]
    second = open_store(url)  # a second process: nothing left to apply
    assert second.migrate() == []
    first.close()
    second.close()


def test_events_are_stored_once_per_event_id(store):
    now = time.time()
    stored, duplicates = store.add([
        Event("ann", "rocky-1976", "like", ts=now - 10, event_id="e1"),
        Event("ann", "rocky-1976", "like", ts=now - 10, event_id="e1"),  # in the same batch
        Event("ann", "rocky-ii-1979", "view", 0.5, ts=now - 5, recommendation_id="r1"),
    ])
    assert (stored, duplicates) == (2, 1)
    assert store.add([Event("ann", "rocky-1976", "like", event_id="e1")]) == (0, 1)
    history = store.history("ann", 10)
    assert [(e.film_id, e.type) for e in history] == [("rocky-ii-1979", "view"),
                                                      ("rocky-1976", "like")]
    assert history[0].value == 0.5 and history[0].recommendation_id == "r1"
    assert history[1].event_id == "e1" and abs(history[1].ts - (now - 10)) < 1e-3
    assert store.count() == 2


def test_history_is_newest_first_and_limited(store):
    now = time.time()
    store.add([Event("bo", f"film-{i}", "view", 1.0, ts=now - 100 + i) for i in range(30)])
    assert [e.film_id for e in store.history("bo", 3)] == ["film-29", "film-28", "film-27"]
    assert store.history("nobody", 5) == []


def test_a_user_is_erased_whole(store):
    store.add([Event("cy", "a", "like"), Event("cy", "b", "dislike"), Event("di", "a", "like")])
    assert store.delete_user("cy") == 2
    assert store.history("cy", 10) == []
    assert [e.user for e in store.history("di", 10)] == ["di"]
    assert {f for f, *_ in store.recent(0, 100)} == {"a"}  # trending no longer counts them
    assert store.delete_user("cy") == 0


def test_recent_events_are_bounded_and_in_the_window(store):
    now = time.time()
    store.add([Event("ed", f"f{i}", "view", 1.0, ts=now - i * 3600) for i in range(10)])
    assert [f for f, *_ in store.recent(now - 4.5 * 3600, 100)] == ["f0", "f1", "f2", "f3", "f4"]
    assert len(store.recent(0, 3)) == 3


def test_writers_in_many_threads_lose_nothing(store):
    def write(user):
        for i in range(25):
            store.add([Event(user, f"film-{i}", "view", 0.5)])

    threads = [threading.Thread(target=write, args=(f"u{n}",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert store.count() == 150


def test_a_database_migrated_by_a_newer_release_is_refused(url, store):
    store.add([Event("fy", "a", "like")])
    with store.transaction() as cur:
        cur.execute(store.sql("INSERT INTO schema_migrations VALUES (?, ?, ?)"),
                    (MIGRATIONS[-1][0] + 1, "from the future", time.time()))
    with pytest.raises(SchemaTooNew, match="Upgrade the service"):
        open_store(url)


def test_sqlite_is_in_wal_mode_with_full_sync(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'e.sqlite3'}")
    store.add([Event("gu", "a", "like")])
    conn = sqlite3.connect(tmp_path / "e.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._connection().execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    conn.close()
    store.close()


def test_the_default_store_is_a_file_beside_the_index_folder(tmp_path):
    assert default_url(tmp_path / "models" / "seeds") == \
        f"sqlite:///{tmp_path / 'models' / 'seeds.events.sqlite3'}"


def test_an_unknown_url_is_refused_with_the_forms_it_takes():
    with pytest.raises(ValueError, match=r"sqlite:///PATH or postgresql://"):
        open_store("mysql://localhost/x")


def test_every_event_is_read_back_for_training_a_page_at_a_time(store):
    """What recommender train reads: (user, film, ts) of every event in arrival order,
    paged by the arrival number on both databases (no transaction held across pages)."""
    store.add([Event(f"u{i % 3}", f"f{i}", "like", ts=1000.0 + i, event_id=f"e{i}")
               for i in range(7)])
    rows = list(store.interactions(page=2))
    assert rows == [(f"u{i % 3}", f"f{i}", 1000.0 + i) for i in range(7)]


@pytest.mark.postgres
def test_a_sql_ascii_database_reads_back_text_not_bytes(postgres):
    """initdb in a C locale (a minimal image's default) makes SQL_ASCII databases, where
    the driver hands back bytes unless the connection asks for UTF-8: a 500 on every
    history, seen in compose with such a server."""
    import psycopg

    name = "t_ascii_" + str(time.time_ns())
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0 "
                     "LC_COLLATE 'C' LC_CTYPE 'C'")
    store = open_store(postgres.rsplit("/", 1)[0] + "/" + name)
    try:
        store.add([Event("søren", "ørnen-1997", "like", event_id="æ1")])
        [event] = store.history("søren", 5)
        assert (event.user, event.film_id, event.event_id) == ("søren", "ørnen-1997", "æ1")
        assert store.delete_user("søren") == 1
    finally:
        store.close()
