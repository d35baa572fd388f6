"""recommender eval-users and the viewer generator as processes."""

import json
import subprocess
import sys

from tests.conftest import ROOT, SEED_LOG


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recommender.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_eval_users_command_prints_the_table_and_writes_json(tmp_path, seed_index_dir):
    log = tmp_path / "log.jsonl"
    log.write_text(SEED_LOG.read_text(encoding="utf-8") + "not json\n"
                   + json.dumps({"user": "x", "film": {"id": "no-such-film"},
                                 "type": "like"}) + "\n", encoding="utf-8")
    out = tmp_path / "report.json"
    done = _cli("eval-users", "--events", str(log), "--index", str(seed_index_dir), "-k", "3",
                "--quiet", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "rejected line 31: The line is not valid JSON" in done.stderr
    assert "rejected line 32: No film with id 'no-such-film'" in done.stderr
    assert "9 viewers evaluated" in done.stdout and "| random | 9 |" in done.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["rejected_lines"] == 2 and set(report["models"]) == {
        "per-user (hybrid)", "content only (hybrid)", "most popular", "popular (decayed)",
        "item-kNN", "EASE", "trending", "random"}
    assert report["collaborative_model"] is None  # 30 events: too few to learn from
    bad = _cli("eval-users", "--events", str(log), "--index", str(seed_index_dir),
               "--modes", "hybrid,cosine")
    assert bad.returncode == 1 and "--modes takes semantic, lexical, hybrid" in bad.stderr
    lonely = tmp_path / "lonely.jsonl"
    lonely.write_text(json.dumps({"user": "x", "film": "Rocky", "type": "like",
                                  "ts": "2026-11-01T00:00:00+00:00"}) + "\n", encoding="utf-8")
    none = _cli("eval-users", "--events", str(lonely), "--index", str(seed_index_dir))
    assert none.returncode == 1 and "no viewer of" in none.stderr and "can be evaluated" \
        in none.stderr


def test_a_generated_log_is_valid_and_evaluated(tmp_path, seed_index_dir):
    log = tmp_path / "generated.jsonl"
    made = subprocess.run([sys.executable, "scripts/gen_viewers.py", "--index",
                           str(seed_index_dir), "--out", str(log), "--viewers", "40",
                           "--min-genre-films", "2",
                           "--franchises", str(ROOT / "seeds/labels/seeds.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    users = {json.loads(line)["user"].split(":")[0] for line in log.open(encoding="utf-8")}
    assert users == {"genre", "franchise"}
    done = _cli("eval-users", "--events", str(log), "--index", str(seed_index_dir), "-k", "2",
                "--quiet")
    assert done.returncode == 0, done.stderr
    assert "(0 lines rejected)" in done.stdout  # every generated event is a valid one
    assert "franchise viewers" in done.stdout and "genre viewers" in done.stdout
