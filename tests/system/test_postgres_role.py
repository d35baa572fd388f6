"""The service against a PostgreSQL role made with exactly the statements docs/operations.md
gives ("PostgreSQL, as an operator sets it up"), read from the page: it migrates its
schema, stores events, catalog changes and impressions, and answers /ready; the role can
do nothing more (no database, no role, no superuser); and a replica opens no more
connections than the page says (workers x (threads + 3))."""

from __future__ import annotations

import re
import time

import pytest

from tests.conftest import ROOT
from tests.ops import call, running_server

pytestmark = [pytest.mark.postgres, pytest.mark.server]

PAGE = ROOT / "docs" / "operations.md"


def documented_statements() -> list[str]:
    section = PAGE.read_text(encoding="utf-8").split(
        "## PostgreSQL, as an operator sets it up", 1)[1]
    sql = re.search(r"```sql\n(.*?)```", section, re.S).group(1)
    return [s.strip() for s in sql.split(";") if s.strip()]


@pytest.fixture
def role_url(postgres):
    import psycopg

    with psycopg.connect(postgres, autocommit=True) as conn:
        for statement in documented_statements():
            conn.execute(statement)
    yield re.sub(r"//[^@]+@", "//recommender:change-me@", postgres.rsplit("/", 1)[0]) + \
        "/recommender"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS recommender WITH (FORCE)")
        conn.execute("DROP ROLE IF EXISTS recommender")


def test_the_service_runs_on_the_documented_role_and_no_more(role_url, seed_index_dir, postgres):
    import psycopg

    workers, threads = 2, 4
    env = {"RECOMMENDER_EVENTS_URL": role_url, "RECOMMENDER_THREADS": str(threads),
           "RECOMMENDER_CATALOG_POLL_SECONDS": "0.5"}
    with running_server(seed_index_dir, workers=workers, env=env) as (base, _):
        status, body = call(base + "/events", "POST", {"events": [
            {"user": f"u{i}", "film": "Rocky", "type": "like"} for i in range(20)]})
        assert status == 200 and body["accepted"] == 20, body
        for i in range(40):  # every worker thread busy at some point
            assert call(base + f"/users/u{i % 20}/recommendations?k=3")[0] == 200
        status, _ = call(base + "/films/role-test-2026", "PUT", {
            "title": "Role Test", "synopsis": "En film om en rolle i en database.", "year": 2026})
        assert status == 201
        deadline = time.monotonic() + 60
        ready = call(base + "/ready")[1]
        while time.monotonic() < deadline and ready.get("events", {}).get("status") != "ok":
            time.sleep(0.5)
            ready = call(base + "/ready")[1]
        assert ready["events"]["status"] == "ok", ready
        with psycopg.connect(postgres, autocommit=True) as conn:
            opened = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = "
                                  "'recommender'").fetchone()[0]
    assert 1 <= opened <= workers * (threads + 3), opened
    with psycopg.connect(role_url, autocommit=True) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"events", "impressions", "catalog_changes", "schema_migrations"} <= tables
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 20
        for forbidden in ("CREATE DATABASE elsewhere", "CREATE ROLE intruder",
                          "ALTER ROLE recommender SUPERUSER"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(forbidden)
    print(f"\n{opened} connections from {workers} workers x {threads} threads")
