"""The example answers of docs/api.md, made again by the seeds service, and the README's
checked: builds the seed index as `make run` does, makes each documented call in order
on a fresh event store, writes docs/api.md's answers in place (whole, as the service
gives them) and prints where the README's abbreviated ones differ, with the answer now.

    python scripts/doc_examples.py            # rewrite docs/api.md, report the README
    python scripts/doc_examples.py --check    # only report (what the test asserts)

tests/integration/test_doc_examples.py fails when either page has drifted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from benchlib import ROOT

from recommender.api.app import create_app
from recommender.cli.main import main as cli
from recommender.config import Settings
from tests import doc_examples

API = ROOT / "docs" / "api.md"
README = ROOT / "README.md"


def close(app: object) -> None:
    """The app's event store closed before its folder goes (its writer would fail)."""
    from recommender.api import impressions
    from recommender.api.viewer_store import viewer_store

    with app.app_context():  # type: ignore[attr-defined]
        recorder = impressions.recorder()
        if recorder is not None:
            recorder.close()  # what it queued, written now
    personal = viewer_store(app).personal  # type: ignore[arg-type]
    if personal is not None:
        personal.store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        index = Path(folder) / "seeds"
        assert cli(["build", "--catalog", str(ROOT / "seeds" / "films.jsonl"), "--out",
                    str(index), "--quiet"]) == 0
        drifted = 0
        for doc in (API, README):
            app = create_app(Settings(index=index, reload_poll_seconds=0,
                                      catalog_poll_seconds=0,
                                      events_url=f"sqlite:///{Path(folder) / doc.stem}.db"))
            client = app.test_client()
            text, cursor = doc.read_text(encoding="utf-8"), 0
            for example in doc_examples.examples(doc):
                status, body = doc_examples.call(client, example)
                wrong = doc_examples.differences(example.shown, status, body)
                if not wrong:
                    continue
                drifted += 1
                now = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
                print(f"{example}: {'; '.join(wrong[:3])}\n  now: {now[:600]}")
                if doc is API and not args.check and body is not None:
                    at = text.index(example.shown, cursor)
                    text = text[:at] + now + text[at + len(example.shown):]
                    cursor = at + len(now)
            if doc is API and not args.check:
                doc.write_text(text, encoding="utf-8")
            close(app)
        print(f"{drifted} answers differed" + ("" if args.check else
                                               " (docs/api.md's rewritten; the README's by hand)"))


if __name__ == "__main__":
    main()
