"""Every example answer of README.md and docs/api.md is the seeds service's own answer
(tests/doc_examples.py says how an abbreviated one is read). The index is built as
`make run` builds it (`recommender build`, the catalog's default model), and the calls run
in the order the page shows them, on one fresh event store, as a reader would make them.
Where one fails: `python scripts/doc_examples.py` prints each call's answer now."""

from __future__ import annotations

import pytest

from recommender.api import impressions
from recommender.api.app import create_app
from recommender.api.services import viewers
from recommender.cli.main import main
from recommender.config import Settings
from tests import doc_examples
from tests.conftest import ROOT, SEEDS

DOCS = [ROOT / "README.md", ROOT / "docs" / "api.md"]


@pytest.fixture(scope="module")
def made_run_index(tmp_path_factory):
    out = tmp_path_factory.mktemp("make-run") / "seeds"
    assert main(["build", "--catalog", str(SEEDS), "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_the_docs_show_the_answers_the_service_gives(doc, made_run_index, tmp_path):
    app = create_app(Settings(index=made_run_index, reload_poll_seconds=0,
                              catalog_poll_seconds=0,
                              events_url=f"sqlite:///{tmp_path / 'events.sqlite3'}"))
    client = app.test_client()
    found = doc_examples.examples(doc)
    assert len(found) >= 5
    wrong = []
    for example in found:
        status, body = doc_examples.call(client, example)
        wrong += [f"{example}: {d}" for d in
                  doc_examples.differences(example.shown, status, body)[:3]]
    with app.app_context():
        recorder = impressions.recorder()
        if recorder is not None:
            recorder.close()  # what it queued, written before the store closes
    personal = viewers(app).personal
    if personal is not None:
        personal.store.close()
    assert not wrong, "\n".join(wrong)


def test_an_abbreviated_answer_is_read_as_written():
    shown = '{"a":1,...,"b":[{"id":"x",...},...],"r":"..."}'
    assert doc_examples.differences(shown, 200, {"a": 1, "z": 0, "b": [
        {"id": "x", "score": 2}, {"id": "y"}], "r": "anything"}) == []
    assert doc_examples.differences(shown, 200, {"a": 1, "b": [{"id": "y"}], "r": ""}) == \
        ["answer.b[0].id: 'y', the docs say 'x'"]
    assert doc_examples.differences('{"a":0.9667}', 200, {"a": 0.9846}) == \
        ["answer.a: 0.9846, the docs say 0.9667"]
    assert doc_examples.differences('{"a":0.9667}', 200, {"a": 0.9677}) == []
    assert doc_examples.differences("(HTTP 204, no body)", 204, None) == []
