"""The Python client (clients/python) against the real server (gunicorn): every method,
sync and async; its generated files current against the server's /openapi.json; a 503
from a stopped database, retried until the database is back, each event stored once; its
README's examples run; its wheel built and installed into a fresh virtual environment
with nothing else of the project."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
import time
import venv

import pytest

from tests.conftest import ROOT
from tests.ops import running_server

CLIENT = ROOT / "clients" / "python"
sys.path.insert(0, str(CLIENT / "src"))
httpx = pytest.importorskip("httpx", reason="httpx is not installed: pip install -e '.[dev]'")
import recommender_client as rc  # noqa: E402

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(seed_index_dir, tmp_path_factory):
    events = tmp_path_factory.mktemp("client") / "events.sqlite3"
    with running_server(seed_index_dir, workers=1,
                        env={"RECOMMENDER_EVENTS_URL": f"sqlite:///{events}"}) as (url, _):
        yield url


def test_the_generated_files_are_current(server):
    run = subprocess.run([sys.executable, str(CLIENT / "generate.py"), "--check", "--openapi",
                          server + "/openapi.json"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_method_sync(server):
    with rc.Client(server) as client:
        assert client.similar("rocky-1976", k=3).results[0].id.startswith("rocky")
        assert client.similar(title="rocky 2", k=1).query["resolved"]["id"] == "rocky-ii-1979"
        assert client.search("a boxer fights a Russian", k=1).results[0].id == "rocky-iv-1985"
        page = client.recommend(["Rocky"], ["Lucky You"], k=2, explain=True)
        assert len(page.results) == 2 and page.recommendation_id
        assert client.film("chariots-of-fire-1981").title == "Chariots of Fire"
        assert len(list(client.films(page_size=3))) == 8  # three pages
        events = [{"user": f"v{i % 50}", "film": {"id": "rocky-1976"}, "type": "view"}
                  for i in range(2400)] + [{"user": "v0", "film": "No Such Film", "type": "like"}]
        sent = client.send_events(events)  # three requests: 1,000 a request
        assert (sent.accepted, sent.duplicates) == (2400, 0)
        assert [(r.index, r.code) for r in sent.rejected] == [(2400, "title_not_found")]
        recs = client.user_recommendations("v1", k=2)
        assert recs.query["history"] >= 1
        assert client.click(recs.recommendation_id, recs.results[0].id, "v1").accepted == 1
        assert client.user_rows("v1", rows=1, k=2).rows
        assert client.history("v1", limit=1).events
        assert client.trending(k=1).results[0].id == "rocky-1976"
        assert client.put_film("client-2026", {"title": "Client", "synopsis": "En film om en "
                                               "klient.", "year": 2026}).status == "created"
        assert client.patch_film("client-2026", {"year": 2025})
        assert client.bulk_films([{"op": "delete", "id": "client-2026"}])
        assert client.set_viewer("v2", country="dk", max_age=7).country == "DK"
        assert client.viewer("v2").max_age == 7
        ranked = client.rank("v2", ["rocky-1976", "lucky-you-2007"], max_age=18)
        assert {f.id for f in ranked.results} == {"rocky-1976", "lucky-you-2007"}
        assert client.search("bokser", k=3, max_age=7).results == []  # the seeds are unrated
        assert client.search("bokser", k=3, filter='year < 1980').results[0].year < 1980
        client.delete_user("v1")
        assert client.history("v1").events == []
        assert client.health().films >= 8 and client.ready()


def test_errors_are_named_by_the_services_codes(server):
    with rc.Client(server, retries=0) as client:
        with pytest.raises(rc.NotFound) as missing:
            client.film("no-such-film")
        assert missing.value.code == "not_found" and missing.value.status == 404
        with pytest.raises(rc.NotFound) as title:
            client.similar(title="Rocky 6")
        assert title.value.suggestions[0]["id"] == "rocky-1976"
        with pytest.raises(rc.BadRequest) as bad:
            client.search("karate", k=0)
        assert bad.value.field == "k"
        assert isinstance(bad.value, rc.RecommenderError)
    with rc.Client("http://127.0.0.1:9", retries=1, backoff=0.01) as nowhere, \
            pytest.raises(rc.Unavailable) as down:
        nowhere.health()
    assert down.value.status == 0


def test_every_method_async(server):
    async def main():
        async with rc.AsyncClient(server) as client:
            assert (await client.search("poker", k=1)).results[0].id == "lucky-you-2007"
            assert (await client.similar("rocky-1976", k=1)).results
            assert len([f async for f in client.films(page_size=5)]) >= 8
            sent = await client.send_events([{"user": "a1", "film": "Rocky", "type": "like"}])
            assert sent.accepted == 1
            assert (await client.user_recommendations("a1", k=1)).results
            with pytest.raises(rc.NotFound):
                await client.film("no-such-film")
    asyncio.run(main())


@pytest.mark.postgres
def test_a_stopped_database_is_retried_and_each_event_stored_once(seed_index_dir):
    """The database stops: the service answers 503 events_unavailable with Retry-After;
    the client waits as told and sends the same chunk (same event ids) again; once the
    database is back every event is stored, once."""
    import psycopg

    from tests import pg

    if pg.why_not():
        pytest.skip(pg.why_not())
    with pg.restartable_server() as database:
        url = pg.fresh_database(database.url)
        with running_server(seed_index_dir, workers=1,
                            env={"RECOMMENDER_EVENTS_URL": url}) as (base, _):
            with rc.Client(base, retries=0) as once:
                assert once.send_events([{"user": "w", "film": "Rocky", "type": "like"}])
                database.stop()
                with pytest.raises(rc.Unavailable) as down:
                    once.send_events([{"user": "w", "film": "Rocky", "type": "view"}])
                assert down.value.status == 503 and down.value.retry_after
            threading.Timer(3.0, database.start).start()
            events = [{"user": f"r{i}", "film": {"id": "rocky-1976"}, "type": "view",
                       "event_id": f"retried-{i}"} for i in range(50)]
            started = time.monotonic()
            with rc.Client(base, retries=10, max_wait=2.0) as patient:
                sent = patient.send_events(events)  # 503s until the database is back
                again = patient.send_events(events)  # the same ids: nothing new
            assert sent.accepted + sent.duplicates == 50 and sent.rejected == []
            assert time.monotonic() - started >= 2.5  # it waited for the database
            assert (again.accepted, again.duplicates) == (0, 50)
        with psycopg.connect(url) as conn:
            stored = conn.execute("SELECT count(*) FROM events WHERE event_id LIKE "
                                  "'retried-%'").fetchone()[0]
    assert stored == 50


def test_its_readme_examples_run(server):
    text = (CLIENT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    for block in blocks:
        code = block.replace("http://127.0.0.1:8000", server)
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120, env={"PYTHONPATH": str(CLIENT / "src"),
                                               "PATH": "/usr/bin:/bin"})
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip()


@pytest.mark.slow
def test_the_wheel_installs_alone_and_works(server, tmp_path):
    out = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                            str(out), str(CLIENT)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(out.glob("recommender_client-*.whl"))
    assert next(out.glob("recommender_client-*.tar.gz"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)],
                             capture_output=True, text=True, timeout=600)
    if install.returncode != 0 and "Could not find a version" in install.stderr:
        pytest.skip("no package registry to install httpx and pydantic from")
    assert install.returncode == 0, install.stderr[-2000:]
    installed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"],
                               capture_output=True, text=True).stdout.lower()
    for absent in ("torch", "faiss", "flask", "recommender=="):
        assert absent not in installed, installed
    use = subprocess.run([str(python), "-c", "import sys, recommender_client as rc; "
                          "print(rc.Client(sys.argv[1]).search('karate', k=1).results[0].id)",
                          server], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert use.stdout.strip() == "the-karate-kid-1984", use.stderr
