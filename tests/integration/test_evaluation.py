"""The evaluation harness on the shipped labelled sets, with the real model."""

import json

import pytest

from recommender.cli.main import main
from recommender.errors import CatalogError
from recommender.evaluation.search_quality import METRICS, _score, evaluate, load_labels
from tests.conftest import ROOT

SEED_LABELS = ROOT / "seeds" / "labels" / "seeds.json"


def test_metrics_known_answer():
    relevant = frozenset({"b", "c"})
    assert _score(["a", "b", "x", "c"], relevant) == {
        "hit@1": 0.0, "hit@3": 1.0, "mrr@10": 0.5, "recall@10": 1.0}
    assert _score(["b"], relevant) == {"hit@1": 1.0, "hit@3": 1.0, "mrr@10": 1.0,
                                       "recall@10": 0.5}
    assert _score([], relevant)["mrr@10"] == 0.0


@pytest.fixture(scope="module")
def seed_report(engine):
    return evaluate(engine, load_labels(SEED_LABELS, set(engine.index.row_of)))


def test_labelled_seed_set_has_danish_and_english_queries():
    labels = load_labels(SEED_LABELS)
    languages = [q.language for q in labels.queries]
    assert languages.count("da") >= 15 and languages.count("en") >= 15
    assert labels.groups[0].name == "Rocky"


def test_hybrid_is_at_least_the_better_single_mode_on_every_metric(seed_report):
    modes = seed_report["modes"]
    for section in ("all", "queries", "groups"):
        for metric in METRICS:
            best_single = max(modes["semantic"][section][metric],
                              modes["lexical"][section][metric])
            assert modes["hybrid"][section][metric] >= best_single, (section, metric)
    assert any(modes["hybrid"]["all"][m] > max(modes["semantic"]["all"][m],
                                               modes["lexical"]["all"][m]) for m in METRICS)


def test_english_queries_reach_the_danish_synopses(seed_report):
    english = seed_report["modes"]["hybrid"]["queries_by_language"]["en"]
    assert english["hit@3"] >= 0.9


def test_labels_with_unknown_ids_are_refused(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"queries": [{"q": "x", "relevant": ["nope", "rocky-1976"]}],
                                "groups": [{"name": "g", "ids": ["gone"]}]}))
    with pytest.raises(CatalogError, match="ids not in the catalog: gone, nope"):
        load_labels(path, {"rocky-1976"})


def test_eval_command_prints_the_table_and_writes_json(seed_index_dir, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert main(["eval", "--labels", str(SEED_LABELS), "--index", str(seed_index_dir),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| hybrid | all |" in printed and "| lexical | queries (da) |" in printed
    report = json.loads(out.read_text())
    assert set(report["modes"]) == {"semantic", "lexical", "hybrid"}
    assert report["index"]["embedded_fields"] == ["synopsis"]
