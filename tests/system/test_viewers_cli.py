"""`recommender events import` and `recommender user-recs` (recommender/viewers_cli.py), in
fresh processes, over a real SQLite store."""

import json
import subprocess
import sys

from tests.conftest import ROOT


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recommender.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_a_log_imported_then_recommended_from(tmp_path, seed_index_dir):
    log = tmp_path / "events.jsonl"
    log.write_text("\n".join([
        json.dumps({"user": "ann", "film": "Rocky", "type": "like", "event_id": "1"}),
        json.dumps({"user": "ann", "film": "Rocky II", "type": "like", "event_id": "2"}),
        json.dumps({"user": "ann", "film": "Lucky You", "type": "dislike", "event_id": "3"}),
        json.dumps({"user": "ann", "film": {"id": "no-such-film"}, "type": "like"}),
        "not json", ""]) + "\n", encoding="utf-8")
    store = ["--index", str(seed_index_dir), "--events-url",
             f"sqlite:///{tmp_path / 'events.sqlite3'}"]
    first = _cli("events", "import", str(log), *store)
    assert first.returncode == 2  # some lines were refused
    assert "3 events stored, 0 duplicates, 2 rejected" in first.stdout
    assert "rejected line 4: No film with id 'no-such-film'" in first.stderr
    assert "rejected line 5: The line is not valid JSON" in first.stderr
    again = _cli("events", "import", str(log), *store)
    assert "0 events stored, 3 duplicates" in again.stdout  # event_ids: stored once
    recs = _cli("user-recs", "ann", "-k", "3", "--json", *store)
    body = json.loads(recs.stdout)
    assert [r["id"] for r in body["results"]] == ["rocky-iv-1985", "rocky-v-1990",
                                                  "rocky-iii-1982"] or \
        {r["id"] for r in body["results"]} == {"rocky-iii-1982", "rocky-iv-1985",
                                               "rocky-v-1990"}
    assert all(r["reasons"][0]["film"]["id"] in ("rocky-1976", "rocky-ii-1979")
               for r in body["results"])
    table = _cli("user-recs", "ann", "-k", "3", *store).stdout
    assert "because you liked Rocky" in table
    newcomer = json.loads(_cli("user-recs", "nobody", "-k", "2", "--json", *store).stdout)
    assert newcomer["query"]["basis"] == "trending" and len(newcomer["results"]) == 2


def test_hostile_lines_are_refused_alone(tmp_path, seed_index_dir):
    log = tmp_path / "hostile.jsonl"
    log.write_text("\n".join([
        "[" * 100_000,  # deeper than any parser's stack
        '{"user": "ann", "user": "bob", "film": "Rocky", "type": "like"}',
        json.dumps({"user": "ann", "film": "Rocky", "type": "like", "event_id": "ok"}),
    ]) + "\n", encoding="utf-8")
    done = _cli("events", "import", str(log), "--index", str(seed_index_dir), "--events-url",
                f"sqlite:///{tmp_path / 'events.sqlite3'}")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "1 events stored, 0 duplicates, 2 rejected" in done.stdout
    assert "rejected line 1: The line nests deeper than 32 levels" in done.stderr
    assert "rejected line 2: The key 'user' is given twice" in done.stderr


def test_user_recs_answers_as_the_http_route_does_with_the_trained_model(tmp_path,
                                                                         seed_index_dir):
    """One factory (open_personalizer) for the server and the CLI: with a model trained,
    both rank by history and every viewer's, the same films in the same order."""
    from tests.ops import call, running_server
    from tests.system.test_collaborative import train_a_seed_copy

    index, url = train_a_seed_copy(tmp_path, seed_index_dir)
    store = ["--index", str(index), "--events-url", url]
    cli = json.loads(_cli("user-recs", "v0", "-k", "3", "--json", *store).stdout)
    assert cli["query"]["basis"] == "history and every viewer's"
    assert cli["query"]["model"]
    with running_server(index, workers=1, env={"RECOMMENDER_EVENTS_URL": url}) as (base, _):
        status, http = call(base + "/users/v0/recommendations?k=3")
    assert status == 200, http
    assert [r["id"] for r in cli["results"]] == [r["id"] for r in http["results"]]
    assert cli["query"]["model"] == http["query"]["model"]
    table = _cli("user-recs", "v0", "-k", "3", *store).stdout
    assert "by history and every viewer's" in table and "viewers_also_liked" not in table
