import json

import pytest

from recommender.cli.main import main
from recommender.index.store import load_index
from tests.conftest import SEEDS


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "idx"
    assert main(["build", "--catalog", str(SEEDS), "--out", str(out), "--quiet"]) == 0
    return out


def test_build_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "idx"
    assert main(["build", "--catalog", str(SEEDS), "--out", str(out), "--quiet"]) == 0
    summary = capsys.readouterr().out
    assert summary.startswith(f"built {out}/versions/")
    assert "films      8 (8 embedded, 0 reused from the previous version)" in summary
    # no --model: a Danish catalog gets the multilingual model (docs/models.md)
    assert "model      multilingual-e5-small (384 dimensions)" in summary
    assert "films/s)" in summary and "rejected" not in summary
    assert len(load_index(out)) == 8
    # again, unchanged: every vector is reused, and the summary says so
    assert main(["build", "--catalog", str(SEEDS), "--out", str(out), "--quiet"]) == 0
    again = capsys.readouterr().out
    assert "films      8 (0 embedded, 8 reused" in again and "(nothing to embed)" in again


DIRTY_CSV = (
    "name,plot,year\n"
    "Rocky,A small-time boxer gets a shot at the world heavyweight title.,1976\n"
    "Apollo 13,Astronauts must return to Earth after an explosion.,PG\n"
    "Rocky II,The rematch with Apollo Creed.,1979\n"
    ",A film with no title.,1999\n"
)


def test_build_on_invalid_skip_lists_the_rejected_rows(tmp_path, capsys):
    catalog = tmp_path / "dirty.csv"
    catalog.write_text(DIRTY_CSV, "utf-8")
    args = ["build", "--catalog", str(catalog), "--title-col", "name", "--text-col", "plot",
            "--year-col", "year", "--quiet", "--no-onnx"]
    assert main([*args, "--out", str(tmp_path / "refused")]) == 1
    err = capsys.readouterr().err
    assert "line 3, field 'year': year must be an integer, got 'PG'" in err
    assert "--on-invalid skip" in err
    assert not (tmp_path / "refused").exists()  # nothing written

    out = tmp_path / "idx"
    assert main([*args, "--out", str(out), "--on-invalid", "skip"]) == 0
    captured = capsys.readouterr()
    assert "rejected   2 catalog rows" in captured.out
    assert "rejected line 3, field 'year'" in captured.err
    index = load_index(out)
    assert [f.title for f in index.films] == ["Rocky", "Rocky II"]
    assert index.manifest["catalog"]["rejected_rows"] == 2
    rejects = [json.loads(line) for line in
               (index.path / "rejects.jsonl").read_text("utf-8").splitlines()]
    assert rejects == [
        {"line": 3, "field": "year", "value": "PG", "reason": "year must be an integer, got 'PG'"},
        {"line": 5, "field": "name", "value": "", "reason": "title is empty"}]


def test_similar_table(cli_index, capsys):
    assert main(["similar", "rocky 2", "--index", str(cli_index), "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Films like Rocky II (1979):")
    assert len(out.strip().splitlines()) == 4
    assert "Rocky II (1979)  [" not in out  # never itself


def test_similar_json_by_id(cli_index, capsys):
    assert main(["similar", "--id", "rocky-iv-1985", "--index", str(cli_index), "--json",
                 "-k", "2"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["query"]["resolved"]["id"] == "rocky-iv-1985"
    assert len(body["results"]) == 2


def test_search(cli_index, capsys):
    assert main(["search", "karate", "--index", str(cli_index), "-k", "1"]) == 0
    assert "The Karate Kid (1984)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["similar", "Zzyzx"], "No film is titled 'Zzyzx'"),
    (["similar", "Rocky 6"], "Did you mean: Rocky"),
    (["search", "karate", "-k", "0"], "k must be an integer from 1 to 100"),
    (["similar"], "give a TITLE or --id"),
])
def test_errors_exit_1_with_a_message(cli_index, capsys, argv, message):
    assert main([*argv, "--index", str(cli_index)]) == 1
    assert message in capsys.readouterr().err


def test_build_refuses_a_bad_catalog_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "title": "A", "synopsis": "x"}\n{"id": "a", "title": "B", '
                   '"synopsis": "y"}\n', "utf-8")
    out = tmp_path / "idx"
    assert main(["build", "--catalog", str(bad), "--out", str(out)]) == 1
    assert "line 2, field 'id': duplicate id 'a'" in capsys.readouterr().err
    assert not out.exists()


def test_missing_index_says_how_to_build_one(tmp_path, capsys):
    assert main(["similar", "Rocky", "--index", str(tmp_path / "none")]) == 1
    assert "recommender build --out" in capsys.readouterr().err


def test_build_if_stale_skips_an_up_to_date_index(cli_index, capsys, tmp_path):
    before = load_index(cli_index).path
    assert main(["build", "--catalog", str(SEEDS), "--out", str(cli_index), "--if-stale"]) == 0
    assert "is up to date" in capsys.readouterr().out
    assert load_index(cli_index).path == before
    changed = tmp_path / "changed.jsonl"
    changed.write_text(SEEDS.read_text("utf-8").replace("Philadelphia", "Philly"), "utf-8")
    assert main(["build", "--catalog", str(changed), "--out", str(cli_index), "--if-stale",
                 "--quiet"]) == 0
    assert load_index(cli_index).path != before


def test_recommend_command(cli_index, capsys):
    assert main(["recommend", "--like", "Rocky", "--like", "id:rocky-ii-1979", "--like",
                 "Rocky 9", "--dislike", "Lucky You", "-k", "2", "--explain",
                 "--index", str(cli_index)]) == 0
    captured = capsys.readouterr()
    assert "warning: positive 'Rocky 9' left out" in captured.err
    lines = captured.out.splitlines()
    assert "Rocky" in lines[0] and "closest to Rocky" in lines[1]


def test_options_on_the_command_line(cli_index, capsys):
    assert main(["similar", "Rocky", "--index", str(cli_index), "-k", "3", "--diversity", "1",
                 "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["query"]["diversity"] == 1.0
    assert main(["search", "kamp", "--genres", "Romance", "--index", str(cli_index)]) == 0
    assert "Lucky You" in capsys.readouterr().out
